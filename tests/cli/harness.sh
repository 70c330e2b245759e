# SPDX-License-Identifier: MIT
# harness.sh — what the shell test scripts share, sourced once TMP is set:
# a fresh TMP with OUT/ERR for each command's output, ok / not_ok (which
# shows the failed command's output), and finish (the summary and the exit
# status). Each script adds the expect_* checks of its own semantics.
rm -rf "$TMP"
mkdir -p "$TMP" || exit 1
OUT=$TMP/stdout
ERR=$TMP/stderr
: >"$OUT"
: >"$ERR"
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    sed 's/^/#   stdout: /' "$OUT" | head -40
    sed 's/^/#   stderr: /' "$ERR" | head -40
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
