#!/bin/sh
# SPDX-License-Identifier: MIT
# check_docs.sh DOXYGEN DOXYFILE HTML_DIR: the API reference builds, and it
# carries the header comments (each public header's page, a function's and
# a struct member's text as the header writes them).
set -u
"$1" "$2" >/dev/null 2>&1 || { echo "doxygen failed"; exit 1; }
fail=0
for h in autodiff exec graph tensor train profile npy; do
    [ -f "$3/${h}_8h.html" ] || { echo "no page for $h.h"; fail=1; }
done
grep -q "Builds the gradient graph of the finalized graph g" "$3/autodiff_8h.html" ||
    { echo "og_graph_build_gradient's comment missing"; fail=1; }
grep -q "finite-difference step" "$3/structog__gradcheck__options.html" ||
    { echo "a struct member's comment missing"; fail=1; }
[ "$fail" -eq 0 ] && echo "API reference: every page, with its comments"
exit "$fail"
