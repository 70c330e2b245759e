#!/bin/sh
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

rm -rf "$TMP"
mkdir -p "$TMP" || exit 1
OUT=$TMP/stdout
ERR=$TMP/stderr
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    sed 's/^/#   stdout: /' "$OUT"
    sed 's/^/#   stderr: /' "$ERR"
}

# expect_ok DESC CMD...: exit 0 and nothing on stderr.
expect_ok() {
    desc=$1
    shift
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$ERR" ]; then ok "$desc"; else not_ok "$desc (exit $rc)"; fi
}

# expect_fail DESC CODE CMD...: exit CODE and one "onnxgrad: " line on stderr.
expect_fail() {
    desc=$1
    code=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    lines=$(wc -l <"$ERR")
    if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q '^onnxgrad: ' "$ERR"; then
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
expect_fail "no command" 2 "$CLI"
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
expect_ok "run converted.onnx --inputs" "$CLI" run "$CNN/converted.onnx" --inputs "$CNN/data" -o "$CNN/out"
expect_same "CNN output matches numpy" "$CNN/out/output_0.pb" "$CNN/data/output_0.pb" y

# ---- official ONNX node cases ------------------------------------------
CONV=$NODE/test_basic_conv_with_padding
expect_ok "convert $CONV" "$CLI" convert "$CONV/model.onnx" -o "$TMP/conv.onnx"
expect_ok "run converted conv --inputs" "$CLI" run "$TMP/conv.onnx" --inputs "$CONV/test_data_set_0" -o "$TMP/conv_out"
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
expect_ok "run gemm with --inputs and -i override" "$CLI" run "$GEMM/model.onnx" \
    --inputs "$GEMM/test_data_set_0" -i "c=$GEMM/test_data_set_0/input_2.pb" -o "$TMP/gemm_out2"
expect_same "gemm override output matches ONNX" "$TMP/gemm_out2/output_0.pb" "$GEMM/test_data_set_0/output_0.pb" y

ARGMAX=$NODE/test_maxpool_with_argmax_2d_precomputed_strides
expect_ok "run a two-output model" "$CLI" run "$ARGMAX/model.onnx" --inputs "$ARGMAX/test_data_set_0" -o "$TMP/argmax_out"
expect_same "argmax output 0 matches ONNX" "$TMP/argmax_out/output_0.pb" "$ARGMAX/test_data_set_0/output_0.pb"
expect_same "argmax output 1 matches ONNX" "$TMP/argmax_out/output_1.pb" "$ARGMAX/test_data_set_0/output_1.pb"

# Run-time failures still give one line and exit 1.
expect_fail "run: --inputs dir missing" 1 "$CLI" run "$CONV/model.onnx" --inputs "$TMP/nodir" -o "$TMP/o"
expect_fail "run: -i file missing" 1 "$CLI" run "$CONV/model.onnx" -i "x=$TMP/none.pb" -o "$TMP/o"
expect_fail "run: missing feed" 1 "$CLI" run "$CONV/model.onnx" -i "x=$CONV/test_data_set_0/input_0.pb" -o "$TMP/o"
expect_fail "run: wrong shape" 1 "$CLI" run "$CONV/model.onnx" -i "x=$CONV/test_data_set_0/input_1.pb" \
    -i "W=$CONV/test_data_set_0/input_0.pb" -o "$TMP/o"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
