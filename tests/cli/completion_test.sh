#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bash completion (tools/onnxgrad-completion.bash) against the real CLI:
# subcommands and long options come from its --help texts.
# usage: completion_test.sh ONNXGRAD COMPLETION_SCRIPT WORKDIR
set -euo pipefail
og=$1; script=$2; work=$3
rm -rf "$work"; mkdir -p "$work"; cd "$work"
# shellcheck disable=SC1090
source "$script"
fail=0
# expect "WORDS..." ENTRY: completing the last word must offer ENTRY.
expect() {
    local want=$1; shift
    COMP_WORDS=("$og" "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
    _onnxgrad || true  # compgen fails when nothing matches
    local r
    for r in "${COMPREPLY[@]}"; do [[ $r == "$want" ]] && { echo "ok: '$*' -> $want"; return; }; done
    echo "FAIL: '$*' offered [${COMPREPLY[*]}], expected $want"; fail=1
}
reject() {
    local bad=$1; shift
    COMP_WORDS=("$og" "$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
    _onnxgrad || true  # compgen fails when nothing matches
    local r
    for r in "${COMPREPLY[@]}"; do [[ $r == "$bad" ]] && { echo "FAIL: '$*' offered $bad"; fail=1; return; }; done
    echo "ok: '$*' does not offer $bad"
}
expect train tr
expect run r
expect gradient-graph gradient-
expect --optimizer train --opt
expect --output run model.onnx --out
expect --version --ver
expect --dim bench model.onnx --di
expect --input-shape gradient-graph --input
expect --limit run --lim
expect --limit train --lim
reject run tr
reject --optimizer run --opt
# Every command in the main help is offered for an empty word.
for c in $("$og" --help | awk '/^commands:/{on=1;next} on&&/^[^ ]/{on=0} on&&/^  [a-z]/{print $1}'); do
    expect "$c" ""
done
expect train help tr
touch model.onnx
expect model.onnx run mod
exit $fail
