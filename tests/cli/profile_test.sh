#!/bin/sh
# SPDX-License-Identifier: MIT
# profile_test.sh — run/grad --profile (Chrome traces), onnxgrad profile,
# bench and info's FLOPs, on a small CNN, the JSON checked by
# check_profile.py.
#
#     profile_test.sh ONNXGRAD TMP_DIR PYTHON3 CHECK_PROFILE_PY
set -u
CLI=$1
TMP=$2
PY=$3
CHECK=$4
rm -rf "$TMP"
mkdir -p "$TMP" || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    sed 's/^/#   stdout: /' "$TMP/out" 2>/dev/null
    sed 's/^/#   stderr: /' "$TMP/err" 2>/dev/null
}
# check DESC CMD...: exit 0 and an empty stderr.
check() {
    desc=$1
    shift
    if "$@" >"$TMP/out" 2>"$TMP/err" && [ ! -s "$TMP/err" ]; then ok "$desc"; else not_ok "$desc"; fi
}

M=$TMP/cnn.onnx
"$PY" "$CHECK" make "$M" || { echo "not ok - making the model"; exit 1; }
"$PY" - "$TMP/x.pb" <<'PYEOF' || exit 1
import sys, numpy as np
from onnx import numpy_helper
t = numpy_helper.from_array(np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32), "X")
open(sys.argv[1], "wb").write(t.SerializeToString())
PYEOF

check "run --profile" "$CLI" run "$M" -i "X=$TMP/x.pb" -o "$TMP/run" -r 2 --profile "$TMP/run-trace.json"
check "run trace valid (2 runs)" "$PY" "$CHECK" trace "$TMP/run-trace.json" 10
check "grad --profile" "$CLI" grad "$M" -i "X=$TMP/x.pb" --loss L -o "$TMP/grad" --profile "$TMP/grad-trace.json"
check "grad trace valid, fused patterns listed" "$PY" "$CHECK" trace "$TMP/grad-trace.json" 10 fused
check "grad outputs are the same with --profile" "$CLI" grad "$M" -i "X=$TMP/x.pb" --loss L -o "$TMP/grad2"
if cmp -s "$TMP/grad/grad_0.pb" "$TMP/grad2/grad_0.pb" && cmp -s "$TMP/grad/grad_3.pb" "$TMP/grad2/grad_3.pb"; then
    ok "grad bits identical with and without --profile"
else
    not_ok "grad bits identical with and without --profile"
fi
check "profile --json" "$CLI" profile "$M" -r 3 --warmup 1 --json
cp "$TMP/out" "$TMP/profile.json"
check "profile json valid" "$PY" "$CHECK" profile "$TMP/profile.json" 3
check "profile --gradient --json --profile" "$CLI" profile "$M" --gradient --loss L -r 2 --json \
    --profile "$TMP/prof-trace.json"
cp "$TMP/out" "$TMP/profile-grad.json"
check "profile --gradient json valid" "$PY" "$CHECK" profile "$TMP/profile-grad.json" 2
check "profile --gradient trace valid" "$PY" "$CHECK" trace "$TMP/prof-trace.json" 10 fused
check "profile table" "$CLI" profile "$M" -r 1
if grep -q '^Conv ' "$TMP/out" && grep -q '^top kernels:' "$TMP/out"; then ok "profile table rows"; else not_ok "profile table rows"; fi
check "bench --json" "$CLI" bench "$M" -r 3 --json
cp "$TMP/out" "$TMP/bench.json"
check "bench json valid" "$PY" "$CHECK" bench "$TMP/bench.json" 0
check "bench --grad --json" "$CLI" bench "$M" --grad --loss L -r 3 --warmup 0 --json
cp "$TMP/out" "$TMP/bench-grad.json"
check "bench --grad json valid" "$PY" "$CHECK" bench "$TMP/bench-grad.json" 1
check "info --json" "$CLI" info "$M" --json
cp "$TMP/out" "$TMP/info.json"
check "info flops" "$PY" "$CHECK" info "$TMP/info.json"
# usage errors: one line, exit 2
"$CLI" profile "$M" --gradient >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then ok "profile --gradient without --loss"; else not_ok "profile --gradient without --loss"; fi
"$CLI" bench "$M" --loss L >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then ok "bench --loss without --grad"; else not_ok "bench --loss without --grad"; fi
"$CLI" run "$M" -i "X=$TMP/x.pb" -o "$TMP/run3" --profile "$TMP/no/such/dir/t.json" >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 1 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ]; then ok "run --profile unwritable"; else not_ok "run --profile unwritable"; fi

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
