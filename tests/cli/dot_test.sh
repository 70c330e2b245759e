#!/bin/sh
# SPDX-License-Identifier: MIT
# dot_test.sh — onnxgrad dot (pictures through Graphviz) and the info
# extras, read back with python3-onnx (dot_check.py).
#
#     dot_test.sh ONNXGRAD TMP_DIR PYTHON3 TESTS_DIR
set -u

CLI=$1
TMP=$2
PY=$3
DIR=$4
CHECK=$DIR/cli/dot_check.py
. "$(dirname "$0")/harness.sh"
expect_ok() {
    desc=$1
    shift
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$ERR" ]; then ok "$desc"; else not_ok "$desc (exit $rc)"; fi
}
expect_fail() {
    desc=$1
    code=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    lines=$(wc -l <"$ERR")
    if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q '^onnxgrad dot: ' "$ERR"; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want $code; $lines stderr lines)"
    fi
}
check() {
    desc=$1
    shift
    if "$PY" "$CHECK" "$@" >"$OUT" 2>"$ERR"; then ok "$desc"; else not_ok "$desc"; fi
}

"$PY" "$CHECK" make "$TMP" || exit 1
M=$TMP/fanin.onnx

# ---- a model, its gradient graph --------------------------------------
expect_ok "dot: svg" "$CLI" dot "$M" -o "$TMP/model.svg"
check "dot: svg has every node, coloured forward" svg "$TMP/model.svg" "$M"
expect_ok "dot --shapes: svg" "$CLI" dot "$M" --shapes -o "$TMP/shapes.svg"
if grep -q 'float \[N,3\]' "$TMP/shapes.svg"; then ok "dot --shapes: edges labelled"; else not_ok "dot --shapes: edges labelled"; fi
if ! grep -q 'float \[N,3\]</text>' "$TMP/model.svg"; then ok "dot: no edge labels by default"; else not_ok "dot: no edge labels by default"; fi
expect_ok "gradient-graph of the model" "$CLI" gradient-graph "$M" --loss loss -o "$TMP/grad.onnx"
expect_ok "dot --gradient: svg" "$CLI" dot "$M" --gradient --loss loss -o "$TMP/grad.svg"
check "dot --gradient: forward, backward and fan-in colours on the right nodes" svg "$TMP/grad.svg" "$M" "$TMP/grad.onnx"
if grep -q '<title>legend_fanin</title>' "$TMP/grad.svg"; then ok "dot --gradient: legend"; else not_ok "dot --gradient: legend"; fi
expect_ok "dot --gradient --wrt W: svg" "$CLI" dot "$M" --gradient --loss loss --wrt W -o "$TMP/gradw.svg"
expect_ok "gradient-graph --wrt W" "$CLI" gradient-graph "$M" --loss loss --wrt W -o "$TMP/gradw.onnx"
check "dot --gradient --wrt W: colours" svg "$TMP/gradw.svg" "$M" "$TMP/gradw.onnx"
expect_ok "dot --gradient: png" "$CLI" dot "$M" --gradient --loss loss -o "$TMP/grad.png"
if head -c 8 "$TMP/grad.png" | grep -q PNG; then ok "dot: png is a PNG"; else not_ok "dot: png is a PNG"; fi
expect_ok "dot --gradient: pdf" "$CLI" dot "$M" --gradient --loss loss -o "$TMP/grad.pdf"
if head -c 5 "$TMP/grad.pdf" | grep -q '%PDF'; then ok "dot: pdf is a PDF"; else not_ok "dot: pdf is a PDF"; fi

# ---- DOT text -------------------------------------------------------------
expect_ok "dot: .dot text" "$CLI" dot "$M" -o "$TMP/model.dot"
check "dot: .dot text has every node" dot "$TMP/model.dot" "$M"
expect_ok "dot --gradient: .dot text" "$CLI" dot "$M" --gradient --loss loss -o "$TMP/grad.dot"
check "dot --gradient: .dot text has every node" dot "$TMP/grad.dot" "$TMP/grad.onnx"
if command -v dot >/dev/null; then
    if dot -Tsvg "$TMP/grad.dot" -o "$TMP/grad_ext.svg" 2>"$ERR" && [ ! -s "$ERR" ]; then
        ok "the Graphviz dot program reads the .dot text"
    else
        not_ok "the Graphviz dot program reads the .dot text"
    fi
fi

# ---- --max-nodes -------------------------------------------------------------
"$CLI" dot "$M" --gradient --loss loss --max-nodes 4 -o "$TMP/cut.svg" >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^onnxgrad dot: note: 4 of [0-9]* nodes drawn (--max-nodes 4): [0-9]* left out$' "$ERR" \
   && [ "$(wc -l <"$ERR")" -eq 1 ]; then
    ok "dot --max-nodes: the note on stderr"
else
    not_ok "dot --max-nodes: the note on stderr (exit $rc)"
fi
check "dot --max-nodes: 4 boxes and the note in the picture" cut "$TMP/cut.svg" 4

# ---- training infos --------------------------------------------------------------
if "$PY" "$DIR/tools/check_training_info.py" make "$TMP/training.onnx" >"$OUT" 2>"$ERR"; then
    expect_ok "dot --training: svg" "$CLI" dot "$TMP/training.onnx" --training -o "$TMP/training.svg"
    n=$(grep -c '<title>t0n[0-9]*</title>' "$TMP/training.svg")
    u=$(grep -c '>update</text>' "$TMP/training.svg")
    if [ "$n" -eq 4 ] && [ "$u" -eq 2 ]; then ok "dot --training: 4 algorithm nodes, 2 update edges"
    else not_ok "dot --training: $n algorithm nodes, $u update edges (want 4, 2)"; fi
    expect_ok "info --json: training model" "$CLI" info --json "$TMP/training.onnx"
    cp "$OUT" "$TMP/training.json"
    check "info --json: parameters, symbolic dims, training details" info "$TMP/training.json" "$TMP/training.onnx"
    expect_fail "dot --training on a model without one" 1 "$CLI" dot "$M" --training -o "$TMP/x.svg"
else
    not_ok "a model with a training info"
fi

# ---- info extras -------------------------------------------------------------------
expect_ok "info --json" "$CLI" info --json "$M"
cp "$OUT" "$TMP/info.json"
check "info --json: parameters and symbolic dims" info "$TMP/info.json" "$M"
expect_ok "info" "$CLI" info "$M"
if grep -qx 'parameters: 12 (48 bytes)' "$OUT" && grep -qx '  N: input x\[0\]' "$OUT"; then
    ok "info: parameters and symbolic dims lines"
else
    not_ok "info: parameters and symbolic dims lines"
fi

# ---- a model onnxgrad cannot run: drawn as stored, one note ----------------
"$CLI" dot "$TMP/unknown.onnx" -o "$TMP/unknown.svg" >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "^onnxgrad dot: note: .*Frobnicate" "$ERR" \
   && [ "$(grep -c '<title>n[0-9]*</title>' "$TMP/unknown.svg")" -eq 2 ]; then
    ok "dot: a model with an unknown op is drawn, with a note"
else
    not_ok "dot: a model with an unknown op is drawn, with a note (exit $rc)"
fi
expect_fail "dot --gradient: a model with an unknown op" 1 "$CLI" dot "$TMP/unknown.onnx" --gradient --loss z -o "$TMP/x.svg"

# ---- errors --------------------------------------------------------------------------
printf 'not a model' >"$TMP/bad.onnx"
expect_fail "dot: a bad file" 1 "$CLI" dot "$TMP/bad.onnx" -o "$TMP/bad.svg"
expect_fail "dot: a missing file" 1 "$CLI" dot "$TMP/none.onnx" -o "$TMP/bad.svg"
expect_fail "dot: an unwritable output" 1 "$CLI" dot "$M" -o "$TMP/no/such/dir/x.svg"
expect_fail "dot: unknown extension" 2 "$CLI" dot "$M" -o "$TMP/x.jpg"
expect_fail "dot: missing -o" 2 "$CLI" dot "$M"
expect_fail "dot: --loss without --gradient" 2 "$CLI" dot "$M" --loss loss -o "$TMP/x.svg"
expect_fail "dot: --gradient without --loss" 2 "$CLI" dot "$M" --gradient -o "$TMP/x.svg"
expect_fail "dot: --gradient with an unknown loss" 1 "$CLI" dot "$M" --gradient --loss nope -o "$TMP/x.svg"
expect_fail "dot: --max-nodes 0" 2 "$CLI" dot "$M" --max-nodes 0 -o "$TMP/x.svg"
expect_ok "dot --help" "$CLI" dot --help
if grep -q '^usage: onnxgrad dot' "$OUT" && grep -q "no external" "$OUT"; then ok "dot --help: usage, no external program"
else not_ok "dot --help: usage, no external program"; fi

finish
