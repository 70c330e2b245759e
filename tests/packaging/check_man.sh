#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The generated man pages: one per command of `onnxgrad --help`, each parsed
# by groff without warnings, rendered by man -l, and listing every long
# option its command's --help lists.
# usage: check_man.sh ONNXGRAD MANDIR
set -euo pipefail
og=$1; dir=$2
fail=0
cmds=$("$og" --help | awk '/^commands:/{on=1;next} on&&/^[^ ]/{on=0} on&&/^  [a-z]/{print $1}')
[ -n "$cmds" ] || { echo "FAIL: no commands in onnxgrad --help"; exit 1; }
check() {  # check PAGE HELP-ARGS...
    local page=$1; shift
    if [ ! -s "$page" ]; then echo "FAIL: $page missing"; fail=1; return; fi
    local warn
    warn=$(groff -man -z -ww "$page" 2>&1) || { echo "FAIL: groff: $page"; fail=1; }
    [ -z "$warn" ] || { echo "FAIL: groff warns on $page: $warn"; fail=1; }
    man -l "$page" 2>/dev/null | grep -q 'NAME' || { echo "FAIL: man -l $page renders no NAME"; fail=1; }
    local src opts o missing=0
    src=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$page")
    opts=$("$og" "$@" --help | grep -oE -- '--[a-zA-Z0-9][a-zA-Z0-9-]*' | sort -u)
    for o in $opts; do
        grep -qF -- "$o" <<<"$src" || { echo "FAIL: $page lacks $o"; missing=1; fail=1; }
    done
    [ $missing = 1 ] || echo "ok: $(basename "$page") ($(wc -w <<<"$opts") options)"
}
check "$dir/onnxgrad.1"
for c in $cmds; do
    [ "$c" = help ] && continue
    check "$dir/onnxgrad-$c.1" "$c"
    grep -q "^onnxgrad-$c \\\\- " "$dir/onnxgrad-$c.1" || { echo "FAIL: onnxgrad-$c.1 NAME line"; fail=1; }
done
exit $fail
