#!/usr/bin/env bash
# Lists the C/H/CMake/sh/py files that lack an "SPDX-License-Identifier: MIT"
# line in their first 5 lines; exits 1 if any do. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
while IFS= read -r -d '' f; do
  if ! head -n 5 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
    echo "$f"
    missing=$((missing + 1))
  fi
done < <(find include src ops tools tests bench examples python schemas .ci -type f -not -path "*/__pycache__/*" \
           \( -name '*.c' -o -name '*.h' -o -name '*.cmake' -o -name 'CMakeLists.txt' \
              -o -name '*.sh' -o -name '*.py' -o -name '*.proto' -o -name '*.js' -o -name run \) -print0 2>/dev/null | sort -z)
if [ "$missing" -gt 0 ]; then
  echo "check-spdx: $missing file(s) without an SPDX-License-Identifier: MIT line" >&2
  exit 1
fi
echo "check-spdx: every file has its SPDX line"
