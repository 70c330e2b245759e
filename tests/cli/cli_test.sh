#!/bin/sh
# SPDX-License-Identifier: MIT
# cli_test.sh — end-to-end tests of the onnxgrad command-line tool.
#
#     cli_test.sh ONNXGRAD NODE_DATA_DIR TMP_DIR PYTHON3 HELPERS_PY
#
# NODE_DATA_DIR is the generated ONNX node test data (the conformance
# fixture). Every failing command must print exactly one stderr line: that
# also catches sanitizer reports, which are many lines.
set -u

CLI=$1
NODE=$2
TMP=$3
PY=$4
HELPERS=$5

. "$(dirname "$0")/harness.sh"

# expect_ok DESC CMD...: exit 0 and nothing on stderr.
expect_ok() {
    desc=$1
    shift
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$ERR" ]; then ok "$desc"; else not_ok "$desc (exit $rc)"; fi
}

# expect_note DESC FRAGMENT CMD...: exit 0, and stderr holds only
# "onnxgrad CMD: note: " lines, one of them with FRAGMENT.
expect_note() {
    desc=$1
    frag=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    if [ "$rc" -eq 0 ] && [ -s "$ERR" ] && ! grep -qv '^onnxgrad [a-z-]*: note: ' "$ERR" && grep -qF -- "$frag" "$ERR"; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc; want 0 and a note with '$frag')"
    fi
}

# expect_fail DESC CODE CMD...: exit CODE and one "onnxgrad CMD: " line on stderr.
expect_fail() {
    desc=$1
    code=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    lines=$(wc -l <"$ERR")
    if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q '^onnxgrad[a-z -]*: ' "$ERR"; then
        ok "$desc"
    else
        not_ok "$desc (exit $rc, want $code; $lines stderr lines)"
    fi
}

# expect_out DESC PATTERN: the last command's stdout has a line matching PATTERN.
expect_out() {
    if grep -qx -- "$2" "$OUT"; then ok "$1"; else not_ok "$1: no line '$2'"; fi
}

# expect_same DESC GOT WANT [NAME]: TensorProtos match (python3-onnx decides).
expect_same() {
    desc=$1
    shift
    if "$PY" "$HELPERS" compare "$@" >"$OUT" 2>"$ERR"; then ok "$desc"; else not_ok "$desc"; fi
}

# ---- help and version --------------------------------------------------
for args in "--help" "-h" "help" "help convert" "help info" "help run" "help help" \
            "convert --help" "info --help" "run --help" "run -h" "run model.onnx --help"; do
    # shellcheck disable=SC2086 # word splitting of $args is intended
    expect_ok "onnxgrad $args" "$CLI" $args
    if grep -q '^usage: onnxgrad' "$OUT"; then ok "onnxgrad $args prints usage"; else not_ok "onnxgrad $args prints usage"; fi
done
expect_ok "--version" "$CLI" --version
expect_out "--version prints the version" 'onnxgrad [0-9][0-9.]*'

# ---- usage errors: exit 2 ----------------------------------------------
"$CLI" >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 2 ] && [ ! -s "$OUT" ] && grep -q '^usage: onnxgrad <command>' "$ERR" && grep -q '^  gradcheck ' "$ERR"; then
    ok "bare onnxgrad: usage summary on stderr, exit 2"
else
    not_ok "bare onnxgrad: usage summary on stderr, exit 2 (exit $rc)"
fi
expect_fail "unknown command" 2 "$CLI" frobnicate
expect_fail "unknown top-level option" 2 "$CLI" --bogus
expect_fail "help for an unknown command" 2 "$CLI" help frobnicate
expect_fail "convert: unknown option" 2 "$CLI" convert --bogus a.onnx -o b.onnx
expect_fail "convert: missing -o" 2 "$CLI" convert a.onnx
expect_fail "convert: two inputs" 2 "$CLI" convert a.onnx b.onnx -o c.onnx
expect_fail "info: unknown option" 2 "$CLI" info -x a.onnx
expect_fail "info: missing model" 2 "$CLI" info
expect_fail "run: unknown option" 2 "$CLI" run a.onnx --bogus -o out
expect_fail "run: missing -o" 2 "$CLI" run a.onnx
expect_fail "run: -o without a value" 2 "$CLI" run a.onnx -o
expect_fail "run: -i without NAME=" 2 "$CLI" run a.onnx -i x.pb -o out

# ---- runtime errors: exit 1, one line ------------------------------------
printf 'not a model' >"$TMP/garbage.onnx"
expect_fail "info: missing file" 1 "$CLI" info "$TMP/nonexistent.onnx"
if grep -q 'nonexistent.onnx' "$ERR"; then ok "the error names the file"; else not_ok "the error names the file"; fi
expect_fail "convert: missing file" 1 "$CLI" convert "$TMP/nonexistent.onnx" -o "$TMP/x.onnx"
expect_fail "run: missing file" 1 "$CLI" run "$TMP/nonexistent.onnx" -o "$TMP/x"
expect_fail "info: garbage file" 1 "$CLI" info "$TMP/garbage.onnx"
if [ ! -e "$TMP/x.onnx" ]; then ok "failed convert writes nothing"; else not_ok "failed convert writes nothing"; fi

# ---- a generated CNN: info, convert, run -----------------------------------
CNN=$TMP/cnn
mkdir -p "$CNN"
if "$PY" "$HELPERS" make-model "$CNN" >"$OUT" 2>"$ERR"; then ok "make the CNN model"; else not_ok "make the CNN model"; fi

expect_ok "info cnn.onnx" "$CLI" info "$CNN/cnn.onnx"
expect_out "info: opset" '  ai.onnx 13'
expect_out "info: input with a symbolic dim" '  x: float \[N,1,5,5\]'
expect_out "info: output" '  y: float \[N,3\]'
expect_out "info: initializer count" 'initializers: 4'
expect_out "info: initializer W" '  W: float \[2,1,3,3\]'
expect_out "info: initializer B2" '  B2: float \[3\]'
expect_out "info: node count" 'nodes: 6'
expect_out "info: Conv count" '  Conv: 1'
expect_out "info: Flatten count" '  Flatten: 1'
expect_out "info: Gemm count" '  Gemm: 1'
expect_out "info: MaxPool count" '  MaxPool: 1'
expect_out "info: Relu count" '  Relu: 2'

expect_ok "convert cnn.onnx" "$CLI" convert "$CNN/cnn.onnx" -o "$CNN/converted.onnx"
if "$PY" "$HELPERS" check-converted "$CNN/converted.onnx" >"$OUT" 2>"$ERR"; then
    ok "converted model passes onnx.checker and has value_info"
else
    not_ok "converted model passes onnx.checker and has value_info"
fi
expect_ok "info converted.onnx" "$CLI" info "$CNN/converted.onnx"
expect_out "info converted: Relu count" '  Relu: 2'
expect_note "run converted.onnx --inputs" "ignored 1 file: output_0.pb ('y' is not an input of the model)" "$CLI" run "$CNN/converted.onnx" --inputs "$CNN/data" -o "$CNN/out"
expect_same "CNN output matches numpy" "$CNN/out/output_0.pb" "$CNN/data/output_0.pb" y

# ---- official ONNX node cases ------------------------------------------
CONV=$NODE/test_basic_conv_with_padding
expect_ok "convert $CONV" "$CLI" convert "$CONV/model.onnx" -o "$TMP/conv.onnx"
expect_note "run converted conv --inputs" "ignored 1 file: output_0.pb" "$CLI" run "$TMP/conv.onnx" --inputs "$CONV/test_data_set_0" -o "$TMP/conv_out"
expect_same "conv output matches ONNX" "$TMP/conv_out/output_0.pb" "$CONV/test_data_set_0/output_0.pb" y
if [ ! -e "$TMP/conv_out/output_1.pb" ]; then ok "one output, one file"; else not_ok "one output, one file"; fi

# -i in reverse order binds by name; a nested OUTDIR is created.
expect_ok "run conv with -i" "$CLI" run "$TMP/conv.onnx" -i "W=$CONV/test_data_set_0/input_1.pb" \
    -i "x=$CONV/test_data_set_0/input_0.pb" -o "$TMP/nested/conv_out"
expect_same "conv -i output matches ONNX" "$TMP/nested/conv_out/output_0.pb" "$CONV/test_data_set_0/output_0.pb" y

GEMM=$NODE/test_gemm_all_attributes
expect_ok "run gemm with -i c, b, a" "$CLI" run "$GEMM/model.onnx" -i "c=$GEMM/test_data_set_0/input_2.pb" \
    -i "b=$GEMM/test_data_set_0/input_1.pb" -i "a=$GEMM/test_data_set_0/input_0.pb" -o "$TMP/gemm_out"
expect_same "gemm output matches ONNX" "$TMP/gemm_out/output_0.pb" "$GEMM/test_data_set_0/output_0.pb" y

# -i replaces the --inputs tensor of the same name.
expect_note "run gemm with --inputs and -i override" "output_0.pb" "$CLI" run "$GEMM/model.onnx" \
    --inputs "$GEMM/test_data_set_0" -i "c=$GEMM/test_data_set_0/input_2.pb" -o "$TMP/gemm_out2"
expect_same "gemm override output matches ONNX" "$TMP/gemm_out2/output_0.pb" "$GEMM/test_data_set_0/output_0.pb" y

ARGMAX=$NODE/test_maxpool_with_argmax_2d_precomputed_strides
expect_note "run a two-output model" "ignored 2 files: output_0.pb ('y' is not an input of the model), output_1.pb ('z'" "$CLI" run "$ARGMAX/model.onnx" --inputs "$ARGMAX/test_data_set_0" -o "$TMP/argmax_out"
expect_same "argmax output 0 matches ONNX" "$TMP/argmax_out/output_0.pb" "$ARGMAX/test_data_set_0/output_0.pb"
expect_same "argmax output 1 matches ONNX" "$TMP/argmax_out/output_1.pb" "$ARGMAX/test_data_set_0/output_1.pb"

# Run-time failures still give one line and exit 1.
expect_fail "run: --inputs dir missing" 1 "$CLI" run "$CONV/model.onnx" --inputs "$TMP/nodir" -o "$TMP/o"
expect_fail "run: -i file missing" 1 "$CLI" run "$CONV/model.onnx" -i "x=$TMP/none.pb" -o "$TMP/o"
expect_fail "run: missing feed" 1 "$CLI" run "$CONV/model.onnx" -i "x=$CONV/test_data_set_0/input_0.pb" -o "$TMP/o"
expect_fail "run: wrong shape" 1 "$CLI" run "$CONV/model.onnx" -i "x=$CONV/test_data_set_0/input_1.pb" \
    -i "W=$CONV/test_data_set_0/input_0.pb" -o "$TMP/o"

# ---- gradients: grad, gradient-graph, gradcheck --------------------------
GM=$TMP/grad
mkdir -p "$GM"
if "$PY" "$HELPERS" make-grad-models "$GM" >"$OUT" 2>"$ERR"; then ok "make the gradient models"; else not_ok "make the gradient models"; fi
MLP=$GM/mlp.onnx
NO=$GM/not-written

# expect_err DESC FRAGMENT: the last command's stderr line holds FRAGMENT.
expect_err() {
    if grep -qF -- "$2" "$ERR"; then ok "$1"; else not_ok "$1: stderr without '$2'"; fi
}

for args in "grad --help" "gradient-graph --help" "gradcheck --help" "gradcheck -h" "help grad" \
            "help gradient-graph" "help gradcheck" "grad model.onnx --loss l --help"; do
    # shellcheck disable=SC2086 # word splitting of $args is intended
    expect_ok "onnxgrad $args" "$CLI" $args
    cmd=${args#help }
    cmd=${cmd%% *}
    if grep -q "^usage: onnxgrad $cmd MODEL.onnx" "$OUT"; then ok "onnxgrad $args prints usage"; else not_ok "onnxgrad $args prints usage"; fi
done
expect_ok "main help" "$CLI" --help
expect_out "main help lists grad" '  grad  .*'
expect_out "main help lists gradient-graph" '  gradient-graph  .*'
expect_out "main help lists gradcheck" '  gradcheck  .*'

# Usage errors: exit 2, one line, nothing written.
expect_fail "grad: missing -o" 2 "$CLI" grad "$MLP" --loss loss
expect_err "grad: missing -o names it" "missing -o OUTDIR"
expect_fail "grad: missing model" 2 "$CLI" grad --loss loss -o "$NO"
expect_fail "grad: nothing to differentiate" 2 "$CLI" grad "$MLP" -o "$NO"
expect_fail "grad: --loss with --seeds" 2 "$CLI" grad "$MLP" --loss loss --seeds "$GM/seeds" -o "$NO"
expect_err "grad: --loss with --seeds says so" "--loss cannot be combined"
expect_fail "grad: --loss with --seed" 2 "$CLI" grad "$MLP" --loss loss --seed "z=$GM/seeds/z.pb" -o "$NO"
expect_fail "grad: --seed without NAME=" 2 "$CLI" grad "$MLP" --seed "$GM/seeds/z.pb" -o "$NO"
expect_fail "grad: --loss twice" 2 "$CLI" grad "$MLP" --loss loss --loss z -o "$NO"
expect_fail "grad: empty name in --wrt" 2 "$CLI" grad "$MLP" --loss loss --wrt W1,,B1 -o "$NO"
expect_fail "grad: --wrt without a value" 2 "$CLI" grad "$MLP" --loss loss -o "$NO" --wrt
expect_fail "grad: a gradcheck option" 2 "$CLI" grad "$MLP" --loss loss --order 2 -o "$NO"
expect_fail "gradient-graph: missing -o" 2 "$CLI" gradient-graph "$MLP" --loss loss
expect_fail "gradient-graph: nothing to differentiate" 2 "$CLI" gradient-graph "$MLP" -o "$NO.onnx"
expect_fail "gradient-graph: --loss with --seed-inputs" 2 "$CLI" gradient-graph "$MLP" --loss loss --seed-inputs z -o "$NO.onnx"
expect_fail "gradient-graph: --inputs is not an option" 2 "$CLI" gradient-graph "$MLP" --loss loss --inputs "$GM/data" -o "$NO.onnx"
expect_fail "gradcheck: -o is not an option" 2 "$CLI" gradcheck "$MLP" -o "$NO"
expect_fail "gradcheck: missing model" 2 "$CLI" gradcheck --fast
for bad in "--order 3" "--order 0" "--order x" "--eps 0" "--eps -1e-3" "--eps abc" "--eps nan" "--eps inf" \
           "--atol -1" "--atol 1e-3x" "--rtol -0.5" "--rtol nan" "--max-elements 0" "--max-elements 1.5" \
           "--max-elements -2" "--rng-seed -1" "--rng-seed x" "--rng-seed 18446744073709551616" "--rng-seed 1.0" "--eps"; do
    # shellcheck disable=SC2086 # word splitting of $bad is intended
    expect_fail "gradcheck: bad $bad" 2 "$CLI" gradcheck "$MLP" $bad
    opt=${bad%% *}
    expect_err "gradcheck: bad $bad names the option" "$opt"
done
if [ ! -e "$NO" ] && [ ! -e "$NO.onnx" ]; then ok "usage errors write nothing"; else not_ok "usage errors write nothing"; fi

# Requests the model cannot satisfy: exit 1, one line naming the problem.
expect_fail "grad: unknown loss" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --loss nope -o "$NO"
expect_err "grad: unknown loss is named" "loss 'nope'"
expect_fail "grad: non-scalar loss" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --loss z -o "$NO"
expect_err "grad: non-scalar loss message" "exactly one element"
expect_fail "grad: --wrt an int64 input" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt ids -o "$NO"
expect_err "grad: --wrt int64 message" "'ids' is int64"
expect_fail "grad: --wrt an unknown tensor" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt W9 -o "$NO"
expect_err "grad: --wrt unknown message" "'W9'"
expect_fail "grad: --wrt an intermediate" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt h -o "$NO"
expect_err "grad: --wrt intermediate message" "neither a graph input nor an initializer"
expect_fail "grad: a path only through Greater" 1 "$CLI" grad "$GM/nodep.onnx" --loss y --wrt x -o "$NO"
expect_err "grad: does-not-depend message" "no differentiated output depends on it"
expect_fail "grad: seed without a name" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --seeds "$GM/unnamed" -o "$NO"
expect_err "grad: unnamed seed message" "no TensorProto name"
expect_fail "grad: seeds dir without .pb" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --seeds "$GM/empty" -o "$NO"
expect_fail "grad: seeds dir missing" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --seeds "$GM/nodir" -o "$NO"
expect_fail "grad: seed for a non-output" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --seed "x=$GM/seeds/z.pb" -o "$NO"
expect_err "grad: non-output seed message" "not a graph output"
expect_fail "grad: seed of the wrong shape" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --seed "z=$GM/data/input_0.pb" -o "$NO"
expect_err "grad: wrong seed shape message" "the seed of output 'z' is float [2,3]; the output is float [2,1]"
expect_fail "grad: seed of the wrong dtype" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --seed "z=$GM/data/input_1.pb" -o "$NO"
expect_err "grad: wrong seed dtype message" "the seed of output 'z' is int64 [2]"
expect_fail "grad: missing input" 1 "$CLI" grad "$MLP" --loss loss -o "$NO"
expect_fail "grad: missing model file" 1 "$CLI" grad "$GM/none.onnx" --loss loss -o "$NO"
expect_fail "gradient-graph: unknown loss" 1 "$CLI" gradient-graph "$MLP" --loss nope -o "$NO.onnx"
expect_fail "gradient-graph: unknown seeded output" 1 "$CLI" gradient-graph "$MLP" --seed-inputs z,nope -o "$NO.onnx"
expect_err "gradient-graph: unknown seeded output named" "'nope'"
expect_fail "gradcheck: symbolic dim without inputs" 1 "$CLI" gradcheck "$CNN/cnn.onnx"
expect_err "gradcheck: symbolic dim named" "'N'"
expect_fail "gradcheck: --wrt an int64 input" 1 "$CLI" gradcheck "$MLP" --inputs "$GM/data" --wrt ids
if [ ! -e "$NO" ] && [ ! -e "$NO.onnx" ]; then ok "failed commands write nothing"; else not_ok "failed commands write nothing"; fi

# grad: loss seeded with 1, against numpy; default order x, W1, B1, W2, B2.
expect_ok "grad --loss" "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss -o "$GM/g_loss"
k=0
for t in x W1 B1 W2 B2; do
    expect_same "grad --loss: grad_$k is d loss/d $t" "$GM/g_loss/grad_$k.pb" "$GM/ref/loss_$t.pb" "$t"
    k=$((k + 1))
done
if [ ! -e "$GM/g_loss/grad_5.pb" ]; then ok "grad: one file per wrt tensor"; else not_ok "grad: one file per wrt tensor"; fi
expect_ok "grad --wrt W2,x" "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt W2,x -o "$GM/g_wrt"
expect_same "grad --wrt: grad_0 is W2's" "$GM/g_wrt/grad_0.pb" "$GM/ref/loss_W2.pb" W2
expect_same "grad --wrt: grad_1 is x's" "$GM/g_wrt/grad_1.pb" "$GM/ref/loss_x.pb" x
if [ ! -e "$GM/g_wrt/grad_2.pb" ]; then ok "grad --wrt: two files"; else not_ok "grad --wrt: two files"; fi
expect_ok "grad --wrt repeated" "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt B1 --wrt=W1 -o "$GM/g_wrt2"
expect_same "grad --wrt repeated: grad_1 is W1's" "$GM/g_wrt2/grad_1.pb" "$GM/ref/loss_W1.pb" W1

# grad: z seeded with u, from a seeds dir and with --seed (inputs by -i).
expect_ok "grad --seeds" "$CLI" grad "$MLP" --inputs "$GM/data" --seeds "$GM/seeds" -o "$GM/g_seeds"
expect_ok "grad --seed" "$CLI" grad "$MLP" -i "ids=$GM/data/input_1.pb" -i "x=$GM/data/input_0.pb" \
    --seed "z=$GM/seeds/z.pb" -o "$GM/g_seed"
k=0
for t in x W1 B1 W2 B2; do
    expect_same "grad --seeds: d<u,z>/d $t" "$GM/g_seeds/grad_$k.pb" "$GM/ref/seed_$t.pb" "$t"
    expect_same "grad --seed: d<u,z>/d $t" "$GM/g_seed/grad_$k.pb" "$GM/ref/seed_$t.pb" "$t"
    k=$((k + 1))
done
# Seeding z with ones through --seed (over the --seeds tensor) is --loss.
expect_ok "grad --seed replaces a --seeds tensor" "$CLI" grad "$MLP" --inputs "$GM/data" --seeds "$GM/seeds" \
    --seed "z=$GM/ones/z.pb" --wrt B2,W1 -o "$GM/g_seed2"
expect_same "grad --seed over --seeds: d sum(z)/d B2" "$GM/g_seed2/grad_0.pb" "$GM/ref/loss_B2.pb" B2
expect_same "grad --seed over --seeds: d sum(z)/d W1" "$GM/g_seed2/grad_1.pb" "$GM/ref/loss_W1.pb" W1

# gradient-graph: a valid ONNX model that onnxgrad reloads and runs.
expect_ok "gradient-graph --loss" "$CLI" gradient-graph "$MLP" --loss loss -o "$GM/gg.onnx"
if "$PY" "$(dirname "$HELPERS")/../tools/check_model.py" check "$GM/gg.onnx" >"$OUT" 2>"$ERR"; then
    ok "gradient graph passes onnx.checker (full_check)"
else
    not_ok "gradient graph passes onnx.checker (full_check)"
fi
expect_ok "info on the gradient graph" "$CLI" info "$GM/gg.onnx"
expect_out "gradient graph: opset 17" '  ai.onnx 17'
expect_out "gradient graph: forward output kept" '  loss: float \[1,1\]'
expect_out "gradient graph: x_grad output" '  x_grad: float \[2,3\]'
expect_out "gradient graph: W1_grad output" '  W1_grad: float \[3,4\]'
expect_out "gradient graph: B2_grad output" '  B2_grad: float \[1\]'
expect_ok "run the gradient graph" "$CLI" run "$GM/gg.onnx" --inputs "$GM/data" -o "$GM/gg_out"
expect_same "gradient graph output 2 is d loss/d x" "$GM/gg_out/output_2.pb" "$GM/ref/loss_x.pb" x_grad
expect_same "gradient graph output 3 is d loss/d W1" "$GM/gg_out/output_3.pb" "$GM/ref/loss_W1.pb" W1_grad
expect_ok "gradient-graph --seed-inputs --wrt" "$CLI" gradient-graph "$MLP" --seed-inputs z --wrt W1 -o "$GM/gg2.onnx"
if "$PY" "$(dirname "$HELPERS")/../tools/check_model.py" check "$GM/gg2.onnx" >"$OUT" 2>"$ERR"; then
    ok "seeded gradient graph passes onnx.checker (full_check)"
else
    not_ok "seeded gradient graph passes onnx.checker (full_check)"
fi
expect_ok "info on the seeded gradient graph" "$CLI" info "$GM/gg2.onnx"
expect_out "seeded gradient graph: seed input" '  z_grad: float \[2,1\]'
expect_out "seeded gradient graph: W1_grad output" '  W1_grad: float \[3,4\]'
expect_ok "run the seeded gradient graph" "$CLI" run "$GM/gg2.onnx" --inputs "$GM/data" \
    -i "z_grad=$GM/seeds/z.pb" -o "$GM/gg2_out"
expect_same "seeded gradient graph output 2 is d<u,z>/d W1" "$GM/gg2_out/output_2.pb" "$GM/ref/seed_W1.pb" W1_grad

# The gradient graph describes itself: producer, metadata, named nodes.
if "$PY" -c '
import sys, onnx
m = onnx.load(sys.argv[1])
meta = {p.key: p.value for p in m.metadata_props}
assert m.producer_name == "onnxgrad", m.producer_name
assert meta.get("onnxgrad.gradient.loss") == "", meta
assert meta.get("onnxgrad.gradient.seeds") == "z", meta
assert meta.get("onnxgrad.gradient.wrt") == "W1", meta
assert all(n.name for n in m.graph.node), [n.op_type for n in m.graph.node if not n.name]
assert len({n.name for n in m.graph.node}) == len(m.graph.node), "node names repeat"
assert any(n.name.startswith("grad/") for n in m.graph.node)
assert any(n.name == "grad/output/W1_grad" for n in m.graph.node)
' "$GM/gg2.onnx" >"$OUT" 2>"$ERR"; then ok "gradient graph: producer, metadata, named nodes"
else not_ok "gradient graph: producer, metadata, named nodes"; fi

# --simplify: fewer nodes, the checker passes, the same outputs bit for bit.
expect_ok "gradient-graph --simplify" "$CLI" gradient-graph "$MLP" --loss loss --simplify -o "$GM/ggs.onnx"
expect_out "gradient-graph --simplify prints the counts" '^simplified .*ggs.onnx: [0-9]* nodes before, [0-9]* after$'
expect_out "gradient-graph --simplify: no Identity left" '^  Identity *[1-9][0-9]* -> 0$'
if "$PY" "$(dirname "$HELPERS")/../tools/check_model.py" check "$GM/ggs.onnx" >"$OUT" 2>"$ERR"; then
    ok "simplified gradient graph passes onnx.checker (full_check)"
else
    not_ok "simplified gradient graph passes onnx.checker (full_check)"
fi
expect_ok "run the simplified gradient graph" "$CLI" run "$GM/ggs.onnx" --inputs "$GM/data" -o "$GM/ggs_out"
for k in 0 1 2 3 4 5 6; do
    if cmp -s "$GM/gg_out/output_$k.pb" "$GM/ggs_out/output_$k.pb"; then ok "simplified graph: output $k bit-identical"
    else not_ok "simplified graph: output $k bit-identical"; fi
done
expect_ok "gradient-graph --simplify --json" "$CLI" gradient-graph "$MLP" --loss loss --simplify --json -o "$GM/ggs2.onnx"
if "$PY" -c '
import sys, json
d = json.load(open(sys.argv[1]))
assert d["simplified"] and d["nodes"] < d["nodes_before"], d
assert sum(v["after"] for v in d["ops"].values()) == d["nodes"], d
assert sum(v["before"] for v in d["ops"].values()) == d["nodes_before"], d
assert d["ops"]["Identity"]["after"] == 0, d
' "$OUT" 2>"$ERR"; then ok "gradient-graph --simplify --json counts"; else not_ok "gradient-graph --simplify --json counts"; fi

# --allow-unused: zeros for a tensor no differentiated output depends on.
expect_fail "gradient-graph: a tensor the output does not depend on" 1 "$CLI" gradient-graph "$GM/nodep.onnx" --seed-inputs y --wrt x,a -o "$NO.onnx"
expect_err "gradient-graph: unused tensor named" "'x'"
expect_ok "gradient-graph --allow-unused" "$CLI" gradient-graph "$GM/nodep.onnx" --seed-inputs y --wrt x,a --allow-unused -o "$GM/unused.onnx"
"$PY" -c '
import sys, os, numpy as np, onnx
from onnx import numpy_helper
os.makedirs(sys.argv[1], exist_ok=True)
for n, v in (("x", 0.5), ("a", 2.0), ("b", 3.0)):
    onnx.save_tensor(numpy_helper.from_array(np.array([v], np.float32), n), os.path.join(sys.argv[1], n + ".pb"))
' "$GM/nodep_in"
expect_ok "grad --allow-unused" "$CLI" grad "$GM/nodep.onnx" --inputs "$GM/nodep_in" --loss y --wrt x,a --allow-unused -o "$GM/unused_g"
if "$PY" -c '
import sys, onnx
from onnx import numpy_helper
gx = numpy_helper.to_array(onnx.load_tensor(sys.argv[1] + "/grad_0.pb"))
ga = numpy_helper.to_array(onnx.load_tensor(sys.argv[1] + "/grad_1.pb"))
assert gx.shape == (1,) and (gx == 0).all(), gx
assert ga.shape == (1,) and (ga == 1).all(), ga
' "$GM/unused_g" >"$OUT" 2>"$ERR"; then ok "grad --allow-unused: zeros"; else not_ok "grad --allow-unused: zeros"; fi

# gradcheck on the CNN (Conv -> Relu -> MaxPool -> Flatten -> Gemm -> Relu),
# batch fixed so the library makes random inputs.
CNN2=$GM/cnn2.onnx
expect_ok "gradcheck the CNN" "$CLI" gradcheck "$CNN2"
expect_out "gradcheck: header" "gradcheck $CNN2: order 1, eps 1e-06, atol 1e-05, rtol 0.001, rng-seed 0"
expect_out "gradcheck: x line" '  x: 50/50 elements, max abs error .*, worst \[[01],0,[0-4],[0-4]\] analytic .* numeric .*  PASS'
expect_out "gradcheck: W line" '  W: 18/18 elements, .*, worst \[[01],0,[0-2],[0-2]\] analytic .*  PASS'
expect_out "gradcheck: B line" '  B: 2/2 elements, .*  PASS'
expect_out "gradcheck: W2 line" '  W2: 24/24 elements, .*  PASS'
expect_out "gradcheck: B2 line" '  B2: 3/3 elements, .*  PASS'
expect_out "gradcheck: summary" 'PASS: 5 of 5 tensors passed, 97 elements compared'
expect_note "gradcheck --inputs" "output_0.pb" "$CLI" gradcheck "$CNN2" --inputs "$CNN/data" --rng-seed 2
expect_out "gradcheck --inputs: summary" 'PASS: 5 of 5 tensors passed, 97 elements compared'
expect_ok "gradcheck --json" "$CLI" gradcheck "$CNN2" --json
cp "$OUT" "$GM/check.json"
if "$PY" "$HELPERS" check-gradcheck-json "$GM/check.json" 5 true "$CNN2" >"$OUT" 2>"$ERR"; then
    ok "gradcheck --json parses, 5 tensors, pass"
else
    not_ok "gradcheck --json parses, 5 tensors, pass"
fi
expect_ok "gradcheck --fast" "$CLI" gradcheck "$CNN2" --fast --rng-seed 3
expect_out "gradcheck --fast: W line" '  W: 1 random projection of 18 elements, .*  PASS'
expect_out "gradcheck --fast: summary" 'PASS: 5 of 5 tensors passed, 5 projections compared'
expect_ok "gradcheck --max-elements --wrt" "$CLI" gradcheck "$CNN2" -i "x=$CNN/data/input_0.pb" \
    --wrt W2,W --max-elements 4 --rng-seed 12345678901234567890
expect_out "gradcheck --max-elements: W2 line first" '  W2: 4/24 elements, .*  PASS'
expect_out "gradcheck --max-elements: W line" '  W: 4/18 elements, .*  PASS'
expect_out "gradcheck --max-elements: summary" 'PASS: 2 of 2 tensors passed, 8 elements compared'
expect_ok "gradcheck with an int64 input given" "$CLI" gradcheck "$MLP" --inputs "$GM/data"
expect_out "gradcheck with an int64 input: summary" 'PASS: 5 of 5 tensors passed, 27 elements compared'
expect_fail "gradcheck: an int64 input not given" 1 "$CLI" gradcheck "$MLP"
expect_err "gradcheck: the int64 input is named" "'ids'"
expect_ok "gradcheck --order 2 (Gemm -> Relu -> Gemm)" "$CLI" gradcheck "$GM/chain.onnx" --order 2
expect_out "gradcheck --order 2: the seed is checked too" '  y_grad: 4/4 elements, .*  PASS'
expect_out "gradcheck --order 2: summary" 'PASS: 6 of 6 tensors passed, 36 elements compared'
expect_ok "gradcheck: names JSON must escape" "$CLI" gradcheck "$GM/odd_names.onnx" --json
cp "$OUT" "$GM/odd.json"
if "$PY" "$HELPERS" check-gradcheck-json "$GM/odd.json" 2 true "$GM/odd_names.onnx" >"$OUT" 2>"$ERR"; then
    ok "gradcheck --json escapes names"
else
    not_ok "gradcheck --json escapes names"
fi

# A failing check: tolerances no finite difference meets.
expect_fail "gradcheck fails with tiny tolerances" 1 "$CLI" gradcheck "$CNN2" --atol 1e-30 --rtol 1e-30 --eps 1e-1
expect_err "gradcheck failure line" "gradcheck failed: 5 of 5 tensors"
expect_out "gradcheck failure: FAIL lines" '  W: 18/18 elements, .*  FAIL'
expect_out "gradcheck failure: summary" 'FAIL: 5 of 5 tensors failed, 97 elements compared'
expect_out "gradcheck failure: a hint names the kinked ops on the path" 'hint: Relu (2 nodes), MaxPool (1 node) on the path are not differentiable at a kink .*'
expect_fail "gradcheck --json fails too" 1 "$CLI" gradcheck "$CNN2" --atol 0 --rtol 0 --eps 1e-1 --json
cp "$OUT" "$GM/fail.json"
if "$PY" "$HELPERS" check-gradcheck-json "$GM/fail.json" 5 false >"$OUT" 2>"$ERR"; then
    ok "failing gradcheck --json parses, pass false"
else
    not_ok "failing gradcheck --json parses, pass false"
fi

expect_fail "gradcheck fails (again, for the hint)" 1 "$CLI" gradcheck "$CNN2" --atol 1e-30 --rtol 1e-30 --eps 1e-1 --wrt b2
if grep -q '^hint: ' "$OUT"; then not_ok "gradcheck: no hint when no kinked op is on the path (b2)"
else ok "gradcheck: no hint when no kinked op is on the path (b2)"; fi

# --seeds: given upstream gradients make the analytic values independent
# of --rng-seed (every element checked, inputs given); random ones do not.
"$PY" -c '
import sys, os, numpy as np, onnx
from onnx import numpy_helper
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
onnx.save_tensor(numpy_helper.from_array(np.array([[0.75]], np.float32), "loss"), os.path.join(d, "loss.pb"))
onnx.save_tensor(numpy_helper.from_array(np.array([[0.5], [-2.0]], np.float32), "z"), os.path.join(d, "z.pb"))
onnx.save_tensor(numpy_helper.from_array(np.zeros((3, 1), np.float32), "z"), os.path.join(d, "bad_z.pb"))
' "$GM/gc_seeds"
mkdir -p "$GM/gc_seeds_ok" && cp "$GM/gc_seeds/loss.pb" "$GM/gc_seeds/z.pb" "$GM/gc_seeds_ok/"
for r in 1 2; do
    expect_ok "gradcheck --seeds (rng-seed $r)" "$CLI" gradcheck "$MLP" --inputs "$GM/data" --seeds "$GM/gc_seeds_ok" --rng-seed $r --json
    cp "$OUT" "$GM/gc_seeded_$r.json"
    expect_ok "gradcheck random seeds (rng-seed $r)" "$CLI" gradcheck "$MLP" --inputs "$GM/data" --rng-seed $r --json
    cp "$OUT" "$GM/gc_random_$r.json"
done
if "$PY" -c '
import sys, json
a = lambda f: [t["analytic"] for t in json.load(open(f))["tensors"]]
s1, s2, r1, r2 = (a(f) for f in sys.argv[1:5])
assert s1 == s2, (s1, s2)
assert r1 != r2, (r1, r2)
' "$GM/gc_seeded_1.json" "$GM/gc_seeded_2.json" "$GM/gc_random_1.json" "$GM/gc_random_2.json" >"$OUT" 2>"$ERR"
then ok "gradcheck --seeds: the given upstream gradients are used"; else not_ok "gradcheck --seeds: the given upstream gradients are used"; fi
expect_ok "gradcheck --seed-file" "$CLI" gradcheck "$MLP" --inputs "$GM/data" --seed-file "z=$GM/gc_seeds/z.pb" --order 2
expect_fail "gradcheck: a seed of the wrong shape" 1 "$CLI" gradcheck "$MLP" --inputs "$GM/data" --seed-file "z=$GM/gc_seeds/bad_z.pb"
expect_err "gradcheck: wrong seed shape named" "the seed of output 'z' is float [3,1]; the output is float [2,1]"
expect_fail "gradcheck: a seed for no output" 1 "$CLI" gradcheck "$MLP" --inputs "$GM/data" --seed-file "nope=$GM/gc_seeds/z.pb"
expect_err "gradcheck: seed for no output named" "'nope'"

# Ctrl-C: the partial report, exit 130. A check of ~10^5 finite
# differences of a 4-layer MatMul chain, interrupted after 2 s.
"$PY" -c '
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(3)
ws = [numpy_helper.from_array((rng.standard_normal((256, 256)) / 16).astype(np.float32), "W%d" % k) for k in range(4)]
nodes = [helper.make_node("MatMul", ["x" if k == 0 else "h%d" % k, "W%d" % k], ["h%d" % (k + 1) if k < 3 else "y"]) for k in range(4)]
g = helper.make_graph(nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 256])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 256])], ws)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
onnx.save(m, sys.argv[1])
' "$GM/slow.onnx"
"$CLI" gradcheck "$GM/slow.onnx" --wrt W0 >"$OUT" 2>"$ERR" &
gc_pid=$!
sleep 2
kill -INT $gc_pid
wait $gc_pid
rc=$?
if [ "$rc" -eq 130 ] && grep -q '^INTERRUPTED: 1 tensors begun, 0 failed so far, [0-9]* of 65536 elements compared$' "$OUT" &&
   grep -q '^  W0: [0-9]*/65536 elements, .*  PASS$' "$OUT" && grep -q 'interrupted after [0-9]* of 65536 finite differences' "$ERR"
then ok "gradcheck: Ctrl-C prints the partial report, exit 130"; else not_ok "gradcheck: Ctrl-C prints the partial report, exit 130 (exit $rc)"; fi

# ---- the common shape: one parser, one naming rule ---------------------
# check_json DESC KIND ARGS...: the last command's stdout is one strict
# JSON document of KIND (helpers.py check-json).
check_json() {
    desc=$1
    shift
    cp "$OUT" "$TMP/last.json"
    if "$PY" "$HELPERS" check-json "$TMP/last.json" "$@" >"$OUT" 2>"$ERR"; then ok "$desc"; else not_ok "$desc"; fi
}
# expect_err_line DESC LINE: stderr is exactly LINE.
expect_err_line() {
    if [ "$(cat "$ERR")" = "$2" ]; then ok "$1"; else not_ok "$1: stderr is not '$2'"; fi
}

expect_ok "onnxgrad --help: exit 0" "$CLI" --help
expect_out "onnxgrad --help: the naming rule" '.*--rng-seed N every.*'

# Errors name the command and point at its help.
expect_fail "run: unknown long option" 2 "$CLI" run "$CNN/cnn.onnx" --x -o "$TMP/u"
expect_err_line "run: unknown option message" "onnxgrad run: unknown option '--x'; see 'onnxgrad run --help'"
expect_fail "run: unknown long option with a value" 2 "$CLI" run "$CNN/cnn.onnx" --x=3 -o "$TMP/u"
expect_err_line "run: --x=3 names --x" "onnxgrad run: unknown option '--x'; see 'onnxgrad run --help'"
expect_fail "grad: unknown short option" 2 "$CLI" grad "$MLP" -q --loss loss -o "$TMP/u"
expect_err_line "grad: unknown short option message" "onnxgrad grad: unknown option '-q'; see 'onnxgrad grad --help'"
expect_fail "gradcheck: a flag given a value" 2 "$CLI" gradcheck "$MLP" --json=yes
expect_err_line "gradcheck: flag value message" "onnxgrad gradcheck: option '--json' takes no value; see 'onnxgrad gradcheck --help'"
expect_fail "grad: ambiguous abbreviation" 2 "$CLI" grad "$MLP" --see "z=$GM/seeds/z.pb" -o "$TMP/u"
expect_err "grad: ambiguous lists the candidates" "ambiguous option '--see' (could be --seeds, --seed)"
expect_fail "run: ambiguous --inp" 2 "$CLI" run "$CNN/cnn.onnx" --inp "$CNN/data" -o "$TMP/u"
expect_err "run: --inp candidates" "(could be --input-shape, --input, --inputs)"
expect_fail "info: missing value at the end" 2 "$CLI" info "$CNN/cnn.onnx" --threads
expect_err_line "info: missing value message" "onnxgrad info: option '--threads' needs a value; see 'onnxgrad info --help'"
expect_fail "convert: -o needs a value (short)" 2 "$CLI" convert "$CNN/cnn.onnx" -o
expect_err "convert: -o named as typed" "option '-o' needs a value"
expect_fail "gradient-graph: an option of another command" 2 "$CLI" gradient-graph "$MLP" --loss loss --force -o "$TMP/u.onnx"
expect_fail "run: -r 0" 2 "$CLI" run "$CNN/cnn.onnx" -r 0 -i "x=$CNN/data/input_0.pb" -o "$TMP/u"
expect_err "run: -r 0 names the option" "-r expects a whole number from 1"
expect_fail "run: --repeat x" 2 "$CLI" run "$CNN/cnn.onnx" --repeat x -i "x=$CNN/data/input_0.pb" -o "$TMP/u"
expect_err "run: --repeat x names the option" "--repeat expects"
if [ ! -e "$TMP/u" ] && [ ! -e "$TMP/u.onnx" ]; then ok "option errors write nothing"; else not_ok "option errors write nothing"; fi

# Abbreviations (any unambiguous prefix) and permutation (options before,
# between and after the arguments), "--" ends the options.
expect_ok "run: --out abbreviated, options first" "$CLI" run --out "$TMP/abbr" --input "x=$CNN/data/input_0.pb" "$CNN/cnn.onnx"
expect_same "run: abbreviated options give the output" "$TMP/abbr/output_0.pb" "$CNN/data/output_0.pb" y
expect_ok "run: --output=DIR, -iNAME=FILE, model last" "$CLI" run --output="$TMP/perm" "-ix=$CNN/data/input_0.pb" --thr 1 -- "$CNN/cnn.onnx"
expect_same "run: permuted options give the output" "$TMP/perm/output_0.pb" "$CNN/data/output_0.pb" y
expect_ok "run: options after the model with POSIXLY_CORRECT set" env POSIXLY_CORRECT=1 "$CLI" run "$CNN/cnn.onnx" \
    -o "$TMP/posix" -i "x=$CNN/data/input_0.pb"
expect_same "run: POSIXLY_CORRECT output" "$TMP/posix/output_0.pb" "$CNN/data/output_0.pb" y
expect_fail "run: after --, an option is an argument" 2 "$CLI" run -o "$TMP/u" -- "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb"
expect_err "run: after -- message" "unexpected argument '-i'"
expect_ok "grad: model between options, --lo/--wr abbreviated" "$CLI" grad --lo loss "$MLP" --wr W2 -i "x=$GM/data/input_0.pb" \
    -i "ids=$GM/data/input_1.pb" -o "$GM/g_perm"
expect_same "grad: permuted grad_0 is W2's" "$GM/g_perm/grad_0.pb" "$GM/ref/loss_W2.pb" W2
expect_ok "gradcheck: --max, --rng, --fa abbreviated" "$CLI" gradcheck "$CNN2" --max 3 --rng 4 --wrt W
expect_out "gradcheck: abbreviations took effect" "gradcheck $CNN2: order 1, eps 1e-06, atol 1e-05, rtol 0.001, rng-seed 4, at most 3 elements per tensor"

# --threads on every command.
expect_ok "info --threads" "$CLI" info --threads 2 "$CNN/cnn.onnx"
expect_ok "convert --threads" "$CLI" convert "$CNN/cnn.onnx" --threads=1 -o "$TMP/thr.onnx"
expect_ok "gradient-graph --threads" "$CLI" gradient-graph "$MLP" --threads 2 --loss loss -o "$TMP/thr_gg.onnx"
expect_ok "grad --threads" "$CLI" grad "$MLP" --threads 2 --inputs "$GM/data" --loss loss -o "$GM/g_thr"
expect_ok "gradcheck --threads" "$CLI" gradcheck "$GM/chain.onnx" --threads 2

# --rng-seed is gradcheck's seed; --seed N still works for a release, with a note.
expect_ok "gradcheck --rng-seed 5" "$CLI" gradcheck "$CNN2" --rng-seed 5 --max-elements 3
cp "$OUT" "$TMP/rng5.txt"
expect_note "gradcheck --seed 5 (deprecated alias)" "'--seed' is deprecated and will be removed in the next release; use '--rng-seed'" \
    "$CLI" gradcheck "$CNN2" --seed 5 --max-elements 3
if [ "$(wc -l <"$ERR")" -eq 1 ]; then ok "the alias prints one note"; else not_ok "the alias prints one note"; fi
if cmp -s "$OUT" "$TMP/rng5.txt"; then ok "--seed 5 reports what --rng-seed 5 does"; else not_ok "--seed 5 reports what --rng-seed 5 does"; fi
"$CLI" gradcheck "$CNN2" --seed -1 >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$ERR")" -eq 2 ] && head -n 1 "$ERR" | grep -q "^onnxgrad gradcheck: note: '--seed' is deprecated" \
    && tail -n 1 "$ERR" | grep -q "^onnxgrad gradcheck: --seed expects an unsigned integer, got '-1'"; then
    ok "gradcheck --seed -1: the note, then the error naming --seed"
else
    not_ok "gradcheck --seed -1: the note, then the error naming --seed (exit $rc)"
fi
expect_fail "grad: --rng-seed is not grad's" 2 "$CLI" grad "$MLP" --rng-seed 1 --loss loss -o "$TMP/u"

# -i NAME must name a graph input (or an initializer): never bound by position.
expect_fail "run: -i unknown name" 1 "$CLI" run "$CONV/model.onnx" -i "nope=$CONV/test_data_set_0/input_0.pb" \
    -i "W=$CONV/test_data_set_0/input_1.pb" -o "$TMP/u"
expect_err "run: -i unknown name lists the inputs" "has no input 'nope'; its inputs are 'x', 'W'"
expect_fail "grad: -i unknown name" 1 "$CLI" grad "$MLP" -i "X=$GM/data/input_0.pb" --loss loss -o "$TMP/u"
expect_err "grad: -i unknown name lists inputs and initializers" "its inputs are 'x', 'ids' (and initializers 'W1', 'B1', 'W2', 'B2', which -i may override)"
expect_fail "gradcheck: -i unknown name" 1 "$CLI" gradcheck "$MLP" -i "nope=$GM/data/input_0.pb"
expect_fail "run: -i the same name twice" 1 "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" -i "x=$CNN/data/input_0.pb" -o "$TMP/u"
expect_err "run: -i twice message" "-i x is given twice"
if [ ! -e "$TMP/u" ]; then ok "bad -i writes nothing"; else not_ok "bad -i writes nothing"; fi

# -i an initializer's name overrides it.
expect_ok "run: -i W2 overrides the initializer" "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" \
    -i "W2=$CNN/alt/W2.pb" -o "$TMP/ovr"
expect_same "run: the output with W2 replaced matches numpy" "$TMP/ovr/output_0.pb" "$CNN/alt/y.pb" y
expect_fail "run: an initializer override of the wrong shape" 1 "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" \
    -i "W2=$CNN/data/input_0.pb" -o "$TMP/u"
expect_err "run: wrong-shape override message" "input 'W2': got shape [2,1,5,5], expected [8,3]"
expect_ok "grad: -i W2 overrides the initializer" "$CLI" grad "$MLP" --inputs "$GM/data" -i "W2=$GM/alt/W2.pb" --loss loss -o "$GM/g_alt"
k=0
for t in x W1 B1 W2 B2; do
    expect_same "grad with W2 replaced: grad_$k is d loss/d $t (default order kept)" "$GM/g_alt/grad_$k.pb" "$GM/ref/alt_$t.pb" "$t"
    k=$((k + 1))
done
expect_ok "gradcheck: -i W2 overrides the initializer" "$CLI" gradcheck "$MLP" --inputs "$GM/data" -i "W2=$GM/alt/W2.pb" --json
check_json "gradcheck with W2 replaced: JSON, 5 tensors" gradcheck 5
cp "$TMP/last.json" "$TMP/alt.json"
if "$PY" "$HELPERS" check-gradcheck-json "$TMP/alt.json" 5 true "$MLP" >"$OUT" 2>"$ERR"; then
    ok "gradcheck with W2 replaced: tensors in the default order"
else
    not_ok "gradcheck with W2 replaced: tensors in the default order"
fi

# --inputs DIR binds every *.pb by TensorProto name; unnamed input_<k>.pb is graph input k.
BYNAME=$TMP/byname
mkdir -p "$BYNAME"
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_1.pb" "$BYNAME/a.pb" W
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_0.pb" "$BYNAME/b.pb" x
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_0.pb" "$BYNAME/junk.pb" nope
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_0.pb" "$BYNAME/unnamed.pb" ""
expect_note "run --inputs: files bound by TensorProto name" \
    "ignored 2 files: junk.pb ('nope' is not an input of the model), unnamed.pb (unnamed, and not input_<k>.pb)" \
    "$CLI" run "$CONV/model.onnx" --inputs "$BYNAME" -o "$TMP/byname_out"
expect_same "run --inputs by name: output matches ONNX" "$TMP/byname_out/output_0.pb" "$CONV/test_data_set_0/output_0.pb" y
UNNAMED=$TMP/unnamed_in
mkdir -p "$UNNAMED"
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_0.pb" "$UNNAMED/input_0.pb" ""
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_1.pb" "$UNNAMED/input_1.pb" ""
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_1.pb" "$UNNAMED/input_2.pb" ""
expect_note "run --inputs: unnamed input_<k>.pb binds graph input k" "input_2.pb (unnamed, and the model has fewer inputs)" \
    "$CLI" run "$CONV/model.onnx" --inputs "$UNNAMED" -o "$TMP/unnamed_out"
expect_same "run --inputs unnamed: output matches ONNX" "$TMP/unnamed_out/output_0.pb" "$CONV/test_data_set_0/output_0.pb" y
"$PY" "$HELPERS" rename "$CONV/test_data_set_0/input_0.pb" "$BYNAME/c.pb" x
expect_fail "run --inputs: two files for one input" 1 "$CLI" run "$CONV/model.onnx" --inputs "$BYNAME" -o "$TMP/u"
expect_err "run --inputs: both files named" "b.pb and c.pb both hold input 'x'"
INIT=$TMP/init_in
mkdir -p "$INIT"
cp "$CNN/data/input_0.pb" "$CNN/alt/W2.pb" "$INIT/"
expect_ok "run --inputs: a file named after an initializer overrides it" "$CLI" run "$CNN/cnn.onnx" --inputs "$INIT" -o "$TMP/init_out"
expect_same "run --inputs initializer override matches numpy" "$TMP/init_out/output_0.pb" "$CNN/alt/y.pb" y

# Earlier results in the output directory: refused, or removed with --force.
FD=$TMP/force
expect_ok "run into a new directory" "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" -o "$FD"
cp "$FD/output_0.pb" "$FD/output_7.pb"
printf 'keep' >"$FD/notes.txt"
expect_fail "run into a directory with earlier outputs" 1 "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" -o "$FD"
expect_err "run: the refusal names the files and --force" "holds 2 result files of an earlier run (output_0.pb, output_7.pb); give --force"
expect_fail "grad into a directory with earlier outputs" 1 "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss -o "$FD"
if [ -e "$FD/output_7.pb" ] && [ ! -e "$FD/grad_0.pb" ]; then ok "a refusal touches nothing"; else not_ok "a refusal touches nothing"; fi
expect_ok "run --force" "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" -o "$FD" --force
if [ ! -e "$FD/output_7.pb" ] && [ -e "$FD/output_0.pb" ] && [ -e "$FD/notes.txt" ]; then
    ok "--force removed the stale output_7.pb, kept other files"
else
    not_ok "--force removed the stale output_7.pb, kept other files"
fi
expect_ok "grad --force" "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt B2 -o "$FD" --force
if [ ! -e "$FD/output_0.pb" ] && [ -e "$FD/grad_0.pb" ] && [ ! -e "$FD/grad_1.pb" ]; then ok "grad --force: only its own results"; else not_ok "grad --force: only its own results"; fi

# Every --json output is one strict JSON document.
expect_ok "info --json" "$CLI" info "$CNN/cnn.onnx" --json
check_json "info --json matches the model" info "$CNN/cnn.onnx"
expect_ok "info --json on the gradient graph" "$CLI" info --json "$GM/gg.onnx"
check_json "info --json gradient graph matches the model" info "$GM/gg.onnx"
expect_ok "info --json escapes names" "$CLI" info --json "$GM/odd_names.onnx"
check_json "info --json odd names round-trip" info "$GM/odd_names.onnx"
# ---- check: what onnxgrad can do with a model, before running it ------
"$PY" "$HELPERS" make-unsupported "$TMP/unsupported.onnx"
expect_fail "check: a model with a missing op exits 1 naming the first blocking node" 1 "$CLI" check "$TMP/unsupported.onnx"
if grep -qF "frob0" "$ERR" && grep -q "Frobnicate .* 2 .* NO" "$OUT" && grep -qF "node 'frob1' (Frobnicate): not implemented by onnxgrad" "$OUT"; then
    ok "check: the missing op counted and marked, each blocking node listed"
else
    not_ok "check: the missing op counted and marked, each blocking node listed"
fi
"$CLI" check --json "$TMP/unsupported.onnx" >"$OUT" 2>"$ERR"
check_json "check --json: a model that does not load" check "$TMP/unsupported.onnx" false false
expect_ok "check: the CNN loads and differentiates" "$CLI" check "$CNN/cnn.onnx"
"$CLI" check --json "$CNN/cnn.onnx" >"$OUT" 2>"$ERR"
check_json "check --json: the CNN" check "$CNN/cnn.onnx" true true
expect_fail "check: --wrt naming no tensor" 1 "$CLI" check --wrt nosuch "$CNN/cnn.onnx"
"$CLI" info "$TMP/unsupported.onnx" >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 0 ] && grep -qF "Frobnicate: 2 (not implemented by onnxgrad)" "$OUT" &&
   grep -qF "onnxgrad info: note: onnxgrad cannot run this model: " "$ERR"; then
    ok "info lists a model it cannot run, the missing op marked"
else
    not_ok "info lists a model it cannot run (exit $rc)"
fi
"$PY" "$HELPERS" make-declared-clash "$TMP/declared_clash.onnx"
"$CLI" info "$TMP/declared_clash.onnx" >"$OUT" 2>"$ERR"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$ERR")" -eq 1 ] &&
   grep -qF "onnxgrad info: warning: node 'relu0' (Relu): output 'y' has shape [2], but the model declares [7,7]; using [2]" "$ERR"; then
    ok "a declared shape that contradicts inference: one warning line, the inferred shape used"
else
    not_ok "a declared shape that contradicts inference: one warning line (exit $rc)"
fi
"$PY" "$HELPERS" make-bad-names "$TMP/bad_names.onnx"
expect_ok "info --json: a name that is not UTF-8" "$CLI" info --json "$TMP/bad_names.onnx"
check_json "info --json: invalid UTF-8 and control chars escaped" info-bad-names
expect_ok "run --json -r 3" "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" -o "$TMP/json_run" --json -r 3
check_json "run --json: outputs and run times" run 1 3
expect_ok "run --repeat 2 (text)" "$CLI" run "$CNN/cnn.onnx" -i "x=$CNN/data/input_0.pb" -o "$TMP/rep_run" --repeat 2
expect_out "run --repeat: the run times" "run $CNN/cnn.onnx: 2 runs, min .* ms, median .* ms, max .* ms"
expect_ok "run --json on a two-output model" "$CLI" run "$ARGMAX/model.onnx" -i "x=$ARGMAX/test_data_set_0/input_0.pb" \
    -o "$TMP/json_argmax" --json
check_json "run --json: two outputs" run 2 1
expect_ok "grad --json" "$CLI" grad "$MLP" --inputs "$GM/data" --loss loss --wrt W2,x -o "$GM/g_json" --json
check_json "grad --json: the gradients in --wrt order" grad W2,x
expect_ok "gradcheck --json (order 2)" "$CLI" gradcheck "$GM/chain.onnx" --order 2 --json
check_json "gradcheck --json: one document" gradcheck 6

# ---- training infos (ModelProto.training_info): info lists them, convert keeps them ----
TI=$(dirname "$HELPERS")/../tools/check_training_info.py
if "$PY" "$TI" make "$TMP/training.onnx" >"$OUT" 2>"$ERR"; then ok "a model with a training info (onnx.helper)"; else not_ok "a model with a training info (onnx.helper)"; fi
expect_ok "info: training info" "$CLI" info "$TMP/training.onnx"
expect_out "info: training info count" 'training infos: 1'
expect_out "info: training info line" '  0: algorithm 4 nodes, 2 update bindings; initialization 1 nodes, 1 initialization bindings'
expect_ok "info --json: training info" "$CLI" info --json "$TMP/training.onnx"
check_json "info --json: training_infos match the model" info "$TMP/training.onnx"
expect_ok "convert keeps the training info" "$CLI" convert "$TMP/training.onnx" -o "$TMP/training_conv.onnx"
if "$PY" "$TI" same "$TMP/training.onnx" "$TMP/training_conv.onnx" >"$OUT" 2>"$ERR" &&
   "$PY" "$TI" check "$TMP/training_conv.onnx" >"$OUT" 2>"$ERR"; then
    ok "convert: the training info is the same and passes the checker"
else
    not_ok "convert: the training info is the same and passes the checker"
fi
expect_ok "info on the converted model" "$CLI" info "$TMP/training_conv.onnx"
expect_out "info converted: training info line" '  0: algorithm 4 nodes, 2 update bindings; initialization 1 nodes, 1 initialization bindings'
expect_out "info converted: main graph nodes" 'nodes: 2'
"$CLI" info "$CNN/cnn.onnx" >"$OUT" 2>"$ERR"
if grep -q "training infos" "$OUT"; then not_ok "info: no training line for a model without"; else ok "info: no training line for a model without"; fi

# --threads: any command; the outputs do not depend on it, bit for bit.
expect_ok "run --threads 1" "$CLI" run "$CNN/converted.onnx" --threads 1 -i "x=$CNN/data/input_0.pb" -o "$TMP/thr1"
expect_ok "run --threads=2" "$CLI" run --threads=2 "$CNN/converted.onnx" -i "x=$CNN/data/input_0.pb" -o "$TMP/thr2"
if cmp -s "$TMP/thr1/output_0.pb" "$TMP/thr2/output_0.pb"; then ok "run: same bytes at 1 and 2 threads"
else not_ok "run: same bytes at 1 and 2 threads"; fi
expect_fail "--threads 0" 2 "$CLI" run "$CNN/converted.onnx" --threads 0 -o "$TMP/thr0"
expect_fail "--threads without a value" 2 "$CLI" run "$CNN/converted.onnx" --threads
expect_fail "OG_ISA unknown" 1 env OG_ISA=sse9 "$CLI" run "$CNN/converted.onnx" -i "x=$CNN/data/input_0.pb" -o "$TMP/isa"
expect_err "OG_ISA unknown: message" "OG_ISA='sse9': expected avx512, avx2 or scalar"

finish
