#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Generates the man pages from the CLI's own --help texts with help2man:
# onnxgrad(1) from 'onnxgrad --help' and onnxgrad-CMD(1) for every command
# the "commands:" section of that text lists (so new commands get a page
# with no edit here). Run at build time by cmake/man.cmake.
# usage: gen-man.sh ONNXGRAD OUTDIR VERSION
set -euo pipefail
og=$1; out=$2; version=$3
mkdir -p "$out"
rm -f "$out"/*.1
"$og" --help >/dev/null
# "  name   description" lines of the commands: section.
"$og" --help | awk '
    /^commands:/ { on = 1; next }
    on && /^[^ ]/ { on = 0 }
    on && /^  [a-z]/ { n = $1; $1 = ""; sub(/^ +/, ""); print n "\t" $0 }' > "$out/commands.txt"
see="onnxgrad(1)"
while IFS=$'\t' read -r c d; do [ "$c" = help ] || see="$see, onnxgrad-$c(1)"; done < "$out/commands.txt"
inc="$out/common.h2m"
printf '[SEE ALSO]\n%s\n' "$see" > "$inc"
help2man --no-info --no-discard-stderr --version-string="$version" --section=1 \
    --name="an ONNX-compatible graph runtime with reverse-mode autodiff" \
    --include="$inc" --output="$out/onnxgrad.1" "$og"
while IFS=$'\t' read -r c d; do
    [ "$c" = help ] && continue
    page="$out/onnxgrad-$c.1"
    help2man --no-info --no-discard-stderr --version-string="$version" --section=1 \
        --name="$d" --include="$inc" --output="$page" "$og $c"
    # help2man names the page after the executable: onnxgrad-CMD instead.
    up=$(echo "onnxgrad-$c" | tr '[:lower:]' '[:upper:]')
    sed -i -e "s/^\.TH ONNXGRAD /.TH $up /" -e "s/^onnxgrad $c \\\\- /onnxgrad-$c \\\\- /" "$page"
done < "$out/commands.txt"
echo "man pages: $(cd "$out" && ls *.1 | tr '\n' ' ')"
