#!/bin/sh
# SPDX-License-Identifier: MIT
# clitools_test.sh — onnxgrad test, .npy I/O, --dim/--input-shape,
# run --random, --limit / OG_LIMIT_*, --json errors.
#
#     clitools_test.sh ONNXGRAD NODE_DATA_DIR TMP_DIR PYTHON3 HELPERS_PY CASES_TXT
set -u
CLI=$1
NODE=$2
TMP=$3
PY=$4
H=$5
CASES=$6

. "$(dirname "$0")/harness.sh"
# run DESC CODE CMD...: exit CODE; a failure prints exactly one stderr line
run() {
    desc=$1
    code=$2
    shift 2
    "$@" >"$OUT" 2>"$ERR"
    rc=$?
    lines=$(wc -l <"$ERR")
    if [ "$rc" -eq "$code" ] && { [ "$code" -eq 0 ] || [ "$lines" -eq 1 ]; }; then ok "$desc"
    else not_ok "$desc (exit $rc, want $code; $lines stderr lines)"; fi
}
has_err() { if grep -qF -- "$2" "$ERR"; then ok "$1"; else not_ok "$1: stderr lacks '$2'"; fi; }
has_out() { if grep -qF -- "$2" "$OUT"; then ok "$1"; else not_ok "$1: stdout lacks '$2'"; fi; }
py() {
    desc=$1
    shift
    if "$PY" "$H" "$@" >"$TMP/py.out" 2>&1; then ok "$desc"; else cp "$TMP/py.out" "$ERR"; : >"$OUT"; not_ok "$desc"; fi
}

M=$TMP/models
py "make the models" make-models "$M"

# ---- onnxgrad test ----------------------------------------------------------
run "test: the official node cases (exit 1: the xfail cases fail)" 1 "$CLI" test "$NODE" --json
cp "$OUT" "$TMP/node.json"
py "test: every case cases.txt lists passes, only xfail ones fail" check-test-json "$TMP/node.json" "$CASES" "$NODE"
py "make a crafted test tree" make-suite "$NODE" "$TMP/suite"
run "test: crafted tree exits 1" 1 "$CLI" test "$TMP/suite/test_relu" "$TMP/suite/bad" "$TMP/suite/test_acos"
has_out "test: PASS line" "PASS    $TMP/suite/test_relu/test_data_set_0"
has_out "test: FAIL line with the worst error" "FAIL    $TMP/suite/bad/test_relu_wrong/test_data_set_0: output 'y'[1,2,3]: got"
has_out "test: REFUSED line with the missing op" "REFUSED $TMP/suite/test_acos/test_data_set_0: "
has_out "test: totals" "1 passed, 1 failed, 1 refused"
has_err "test: one failure line" "onnxgrad test: 1 of 3 cases failed"
run "test --json: the crafted tree" 1 "$CLI" test "$TMP/suite" --json
cp "$OUT" "$TMP/suite.json"
py "test --json: results, worst error, totals" check-suite-json "$TMP/suite.json"
run "test: passing cases only exit 0" 0 "$CLI" test "$TMP/suite/test_relu" "$TMP/suite/test_add_bcast"
has_out "test: 2 passed" "2 passed, 0 failed, 0 refused"
run "test --atol: a loose tolerance passes the wrong value" 0 "$CLI" test "$TMP/suite/bad" --atol 1
run "test --rtol: bad value is a usage error" 2 "$CLI" test "$TMP/suite" --rtol -1
run "test: no cases" 1 "$CLI" test "$M"
has_err "test: no cases message" "no test cases"
run "test: not a directory" 1 "$CLI" test "$TMP/nope"
run "test --grad: stored gradients" 1 "$CLI" test --grad "$TMP/suite/grad"
has_out "test --grad: PASS" "PASS    $TMP/suite/grad/mlp/test_data_set_0"
has_out "test --grad: REFUSED without grad_<k>.pb" "REFUSED $TMP/suite/grad/mlp/test_data_set_1: no stored gradients (grad_<k>.pb) in the set"
has_out "test --grad: FAIL names the gradient" "FAIL    $TMP/suite/grad/mlp/test_data_set_2: gradient of 'W'[2,1]"
run "test: the grad model's forward" 0 "$CLI" test "$TMP/suite/grad"
has_out "test: forward of all three sets" "3 passed, 0 failed, 0 refused"
# grad writes what test --grad reads
mkdir -p "$TMP/g2/m/test_data_set_0"
cp "$M/mlp.onnx" "$TMP/g2/m/model.onnx"
cp "$TMP/suite/grad/mlp/test_data_set_0/input_0.pb" "$TMP/g2/m/test_data_set_0/"
run "grad into a test set" 0 "$CLI" grad "$M/mlp.onnx" --inputs "$TMP/g2/m/test_data_set_0" --loss loss -o "$TMP/g2/m/test_data_set_0"
run "test --grad on grad's own files" 0 "$CLI" test --grad "$TMP/g2"
has_out "test --grad: 1 passed" "1 passed, 0 failed, 0 refused"

# ---- .npy ---------------------------------------------------------------------
run "run -i x=x.npy --format npy" 0 "$CLI" run "$M/relu.onnx" -i "x=$M/x.npy" -o "$TMP/npy1" --format npy --json
has_out "run --json names the .npy file" '"file": "y.npy"'
py "run: y.npy is relu(x)" check-npy "$TMP/npy1/y.npy" "[[0,2,0],[4,0,6]]" float32
run "run -i x=fortran-order .npy" 0 "$CLI" run "$M/relu.onnx" -i "x=$M/x_fortran.npy" -o "$TMP/npy2"
py "run: Fortran-order input transposed on load" check-pb "$TMP/npy2/output_0.pb" "[[0,2,0],[4,0,6]]"
mkdir -p "$TMP/indir"
cp "$M/x.npy" "$TMP/indir/x.npy"
run "run --inputs DIR with NAME.npy" 0 "$CLI" run "$M/relu.onnx" --inputs "$TMP/indir" -o "$TMP/npy3"
py "run: --inputs x.npy bound to x" check-pb "$TMP/npy3/output_0.pb" "[[0,2,0],[4,0,6]]"
run "run --format npy sanitises names" 0 "$CLI" run "$M/names.onnx" -i "x=$M/x.npy" -o "$TMP/npy4" --format npy
py "run: 'a/b:0' written as a_b_0.npy" check-npy "$TMP/npy4/a_b_0.npy" "[[1,-2,3],[-4,5,-6]]"
run "grad --format npy" 0 "$CLI" grad "$M/mlp.onnx" -i "x=$M/x.npy" --loss loss -o "$TMP/npy5" --format npy
if [ -f "$TMP/npy5/x.npy" ] && [ -f "$TMP/npy5/W.npy" ]; then ok "grad: x.npy and W.npy"; else not_ok "grad: x.npy and W.npy"; fi
run "run --format xml" 2 "$CLI" run "$M/relu.onnx" -i "x=$M/x.npy" -o "$TMP/npy6" --format xml
run "run: a float64 .npy for a float input" 1 "$CLI" run "$M/relu.onnx" -i "x=$M/x_f64.npy" -o "$TMP/npy7"
head -c 70 "$M/x.npy" >"$TMP/trunc.npy"
run "run: truncated .npy" 1 "$CLI" run "$M/relu.onnx" -i "x=$TMP/trunc.npy" -o "$TMP/npy8"
has_err "run: truncated .npy names the file and offset" "$TMP/trunc.npy: offset "

# ---- --dim / --input-shape ---------------------------------------------------
run "convert --dim N=4" 0 "$CLI" convert "$M/relu.onnx" --dim N=4 -o "$TMP/fixed.onnx"
run "info on the fixed model" 0 "$CLI" info "$TMP/fixed.onnx"
has_out "fixed model: x is [4,3]" "  x: float [4,3]"
has_out "fixed model: y is [4,3]" "  y: float [4,3]"
run "convert --input-shape x=2,3" 0 "$CLI" convert "$M/relu.onnx" --input-shape x=2,3 -o "$TMP/fixed2.onnx"
run "info" 0 "$CLI" info "$TMP/fixed2.onnx"
has_out "fixed2: x is [2,3]" "  x: float [2,3]"
run "--input-shape contradicting a fixed dim" 1 "$CLI" convert "$TMP/fixed.onnx" --input-shape x=4,5 -o "$TMP/f3.onnx"
has_err "the error names the dim" "input 'x' dim 1 is fixed at 3 in the model; the shape given has 5"
run "--input-shape of the wrong rank" 1 "$CLI" run "$M/relu.onnx" --input-shape x=4 -i "x=$M/x.npy" -o "$TMP/d1"
run "--dim of an unknown symbol" 1 "$CLI" run "$M/relu.onnx" --dim B=2 -i "x=$M/x.npy" -o "$TMP/d2"
has_err "unknown symbol: lists the symbols" "no graph input has a symbolic dim 'B'; the inputs' symbolic dims are 'N'"
run "--dim N=3 then a [2,3] input" 1 "$CLI" run "$M/relu.onnx" --dim N=3 -i "x=$M/x.npy" -o "$TMP/d3"
run "--dim malformed" 2 "$CLI" run "$M/relu.onnx" --dim N -o "$TMP/d4"
run "--input-shape malformed" 2 "$CLI" grad "$M/mlp.onnx" --input-shape x=a,b --loss loss -o "$TMP/d5"
run "gradcheck: random inputs need a static shape" 1 "$CLI" gradcheck "$M/mlp.onnx"
run "gradcheck --dim N=2: random inputs of that shape" 0 "$CLI" gradcheck "$M/mlp.onnx" --dim N=2
run "gradcheck --dim N=2 -i x=x.npy" 0 "$CLI" gradcheck "$M/mlp.onnx" --dim N=2 -i "x=$M/x.npy"
run "grad --input-shape" 0 "$CLI" grad "$M/mlp.onnx" --input-shape x=2,3 -i "x=$M/x.npy" --loss loss -o "$TMP/d6"

# ---- run --random --------------------------------------------------------------
run "run --random needs a static shape" 1 "$CLI" run "$M/relu.onnx" --random -o "$TMP/r0"
has_err "--random names the symbolic dim" "has the symbolic dim 'N'; fix it with --dim N=SIZE"
run "run --random --dim N=50" 0 "$CLI" run "$M/relu.onnx" --random --dim N=50 --val-range x=-2,-1 -o "$TMP/r1"
py "--val-range -2,-1 through Relu is all zeros" check-pb "$TMP/r1/output_0.pb" "$("$PY" -c 'print([[0,0,0]]*50)')"
run "run --random seed 1" 0 "$CLI" run "$M/relu.onnx" --random --dim N=50 --rng-seed 1 -o "$TMP/r2"
run "run --random seed 1 again" 0 "$CLI" run "$M/relu.onnx" --random --dim N=50 --rng-seed 1 -o "$TMP/r3"
run "run --random seed 2" 0 "$CLI" run "$M/relu.onnx" --random --dim N=50 --rng-seed 2 -o "$TMP/r4"
if cmp -s "$TMP/r2/output_0.pb" "$TMP/r3/output_0.pb"; then ok "--random: same seed, same inputs"; else not_ok "--random: same seed"; fi
if cmp -s "$TMP/r2/output_0.pb" "$TMP/r4/output_0.pb"; then not_ok "--random: another seed, other inputs"; else ok "--random: another seed, other inputs"; fi
py "--random floats in [0,1)" check-random "$TMP/r2/output_0.pb" 0 1 0
run "run --random integers" 0 "$CLI" run "$M/ints.onnx" --random --val-range i=3,7 -o "$TMP/r5"
py "--random int64 in [3,7] doubled is in [6,14]" check-random "$TMP/r5/output_0.pb" 6 14 1
run "--val-range of no input" 1 "$CLI" run "$M/ints.onnx" --random --val-range z=0,1 -o "$TMP/r6"
run "--val-range malformed" 2 "$CLI" run "$M/ints.onnx" --random --val-range i=5,1 -o "$TMP/r7"

# ---- --limit and OG_LIMIT_* ---------------------------------------------------
run "--limit file-bytes=10 refuses the model" 1 "$CLI" info "$M/relu.onnx" --limit file-bytes=10
has_err "the limit message says how to raise it" "(file-bytes); raise it with --limit file-bytes=N or OG_LIMIT_FILE_BYTES=N (og_limit(OG_LIMIT_FILE_BYTES, N) in C)"
run "OG_LIMIT_FILE_BYTES=10" 1 env OG_LIMIT_FILE_BYTES=10 "$CLI" run "$M/relu.onnx" -i "x=$M/x.npy" -o "$TMP/l1"
has_err "env limit: same message" "raise it with --limit file-bytes=N"
run "--limit overrides the environment" 0 env OG_LIMIT_FILE_BYTES=10 "$CLI" info "$M/relu.onnx" --limit file-bytes=1M
run "--limit parse-memory-factor=16 (any command)" 0 "$CLI" test "$TMP/suite/test_relu" --limit parse-memory-factor=16
run "--limit tensor-elements=5 stops a run" 1 "$CLI" run "$M/relu.onnx" -i "x=$M/x.npy" -o "$TMP/l2" --limit tensor-elements=5
has_err "tensor-elements message" "raise it with --limit tensor-elements=N or OG_LIMIT_TENSOR_ELEMENTS=N"
run "--limit unknown name" 2 "$CLI" info "$M/relu.onnx" --limit bogus=3
has_err "unknown limit lists the names" "the limits are file-bytes, nesting-depth, rank, tensor-elements, parse-memory-factor, parse-memory-base, plan-bytes"
run "--limit over the hard maximum" 2 "$CLI" info "$M/relu.onnx" --limit rank=33
run "--limit malformed value" 2 "$CLI" info "$M/relu.onnx" --limit rank=x
run "OG_LIMIT_RANK malformed" 2 env OG_LIMIT_RANK=-1 "$CLI" info "$M/relu.onnx"

# ---- --json errors -------------------------------------------------------------
run "info --json, missing file" 1 "$CLI" info "$TMP/missing.onnx" --json
py "info --json: OG_ERR_IO error object" check-error-json "$OUT" OG_ERR_IO missing.onnx
run "run --json, usage error before --json" 2 "$CLI" run "$M/relu.onnx" --bogus -o "$TMP/j1" --json
py "run --json: usage error object" check-error-json "$OUT" usage "unknown option '--bogus'"
run "grad --json, unknown input" 1 "$CLI" grad "$M/mlp.onnx" -i "z=$M/x.npy" --loss loss -o "$TMP/j2" --json
py "grad --json: error object" check-error-json "$OUT" error "has no input 'z'"
run "run --json, a limit" 1 "$CLI" run "$M/relu.onnx" -i "x=$M/x.npy" -o "$TMP/j3" --json --limit tensor-elements=5
py "run --json: OG_ERR_LIMIT" check-error-json "$OUT" OG_ERR_LIMIT "--limit tensor-elements=N"
run "test --json, no cases" 1 "$CLI" test "$M" --json
py "test --json: error object" check-error-json "$OUT" error "no test cases"
run "info without --json: nothing on stdout" 1 "$CLI" info "$TMP/missing.onnx"
if [ -s "$OUT" ]; then not_ok "no JSON without --json"; else ok "no JSON without --json"; fi

# ---- help ---------------------------------------------------------------------
run "help test" 0 "$CLI" help test
has_out "help test: usage" "usage: onnxgrad test DIR..."
run "help run" 0 "$CLI" run --help
has_out "run --help: --random" "--random"
has_out "run --help: --format" "--format"
run "help grad" 0 "$CLI" grad --help
has_out "grad --help: --dim" "--dim NAME=N"
run "help convert" 0 "$CLI" convert --help
has_out "convert --help: --input-shape" "--input-shape NAME=D,D,..."
# Every command's --help (its man page, the completion's source) lists the
# option groups it accepts: an option the parser takes (exit 0 with --help
# after it) must be in the help text.
for c in $("$CLI" --help | awk '/^commands:/{on=1;next} on&&/^[^ ]/{on=0} on&&/^  [a-z]/{print $1}'); do
    [ "$c" = help ] && continue
    "$CLI" "$c" --help >"$TMP/help-$c.txt" 2>&1
    for o in "--dim N=1" "--input-shape x=1" "--format npy" "--random" "--json" "--profile t.json"; do
        name=${o%% *}
        # shellcheck disable=SC2086
        if "$CLI" "$c" $o --help >/dev/null 2>&1; then
            if grep -qE -- "$name( |=|\]|$)" "$TMP/help-$c.txt"; then ok "$c --help lists $name"
            else not_ok "$c accepts $name but its --help does not list it"; fi
        fi
    done
done

finish
