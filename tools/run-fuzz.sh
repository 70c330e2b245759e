#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz and
# runs them. Targets: load (og_model_load_memory + save + reload), run (load,
# plan, run), tensor (og_tensor_load_pb_memory) and grad (load, build the
# gradient graph, plan, save + reload).
#
#   bash tools/run-fuzz.sh replay              every committed seed and crash
#                                              reproducer once, per target
#   bash tools/run-fuzz.sh smoke [SECONDS]     each target for SECONDS (default
#                                              40) or 150000 inputs
#                                              (OG_FUZZ_SMOKE_RUNS), whichever
#                                              comes first, fixed seed, on a
#                                              temp copy of the corpus
#   bash tools/run-fuzz.sh long TARGET EXECS [JOBS]
#                                              TARGET for EXECS executions on
#                                              build-fuzz/corpus-TARGET (JOBS > 1:
#                                              libFuzzer fork mode); log in
#                                              build-fuzz/long-TARGET.log
#
# Every mode exits non-zero on any crash, leak, UBSan report or timeout.
# Inputs that fail are kept in build-fuzz/artifacts/TARGET/; a real bug's
# reproducer belongs in tests/fuzz/crashes/TARGET/ (replayed from then on).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${OG_FUZZ_BUILD:-$root/build-fuzz}   # OG_FUZZ_BUILD: a separate build for long runs
targets=(load run tensor grad)
dict=$root/tests/fuzz/onnx.dict
common=(-rss_limit_mb=2048 -timeout=10)
fuzz_flags=(-seed=1 -max_len=65536 "-dict=$dict" "${common[@]}" -print_final_stats=1)
smoke_runs=${OG_FUZZ_SMOKE_RUNS:-150000}   # smoke: inputs per target (about 5-25 s each here)

# One BLAS thread: reproducible sums, and the fuzzer owns the CPU it has.
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ -f "$root/tests/fuzz/ubsan.supp" ]; then
  UBSAN_OPTIONS=$UBSAN_OPTIONS:suppressions=$root/tests/fuzz/ubsan.supp
fi
export UBSAN_OPTIONS

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build_targets() {
  bash tools/install-deps.sh
  local cc=clang
  command -v clang >/dev/null 2>&1 || cc=clang-14
  if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=$cc cmake -S . -B "$build" -DOG_FUZZ=ON -DOG_BUILD_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  else
    cmake -S . -B "$build" -DOG_FUZZ=ON >/dev/null
  fi
  if ! cmake --build "$build" -j"$(nproc)" --target fuzz_load fuzz_run fuzz_tensor fuzz_grad >"$build/build.log" 2>&1; then
    tail -30 "$build/build.log"
    echo "build failed (log: $build/build.log)" >&2
    exit 1
  fi
}

bin() { echo "$build/tests/fuzz/fuzz_$1"; }

check_target() {
  case " ${targets[*]} " in *" $1 "*) ;; *) echo "unknown target '$1' (load, run, tensor, grad)" >&2; exit 2 ;; esac
}

# Failing inputs of one target land here (outside the repo).
artifacts() { mkdir -p "$build/artifacts/$1"; echo "$build/artifacts/$1/"; }

replay() {
  local fail=0
  for t in "${targets[@]}"; do
    local files=()
    while IFS= read -r -d '' f; do files+=("$f"); done < <(
      find "tests/fuzz/corpus/$t" "tests/fuzz/crashes/$t" -type f ! -name '.keep' ! -name 'README*' \
        -print0 2>/dev/null | sort -z)
    local log=$build/replay-$t.log
    if "$(bin "$t")" "${common[@]}" "${files[@]}" >"$log" 2>&1; then
      echo "replay $t: ${#files[@]} inputs, no crash"
    else
      echo "replay $t: FAILED (log: $log)"
      grep -E "ERROR|SUMMARY|fuzz invariant|Running:|runtime error" "$log" | tail -15
      fail=1
    fi
  done
  return $fail
}

smoke() {
  local secs=${1:-40} fail=0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for t in "${targets[@]}"; do
    mkdir -p "$tmp/$t"
    cp "tests/fuzz/corpus/$t"/* "$tmp/$t/"
    local log=$build/smoke-$t.log
    # -runs as well as the time: with -seed=1 the inputs tried are then the
    # same on any machine fast enough (a slower one tries a prefix of them),
    # so a smoke that passed here cannot fail on new ground elsewhere
    if "$(bin "$t")" "${fuzz_flags[@]}" -runs="$smoke_runs" -max_total_time="$secs" \
         -artifact_prefix="$(artifacts "$t")" \
         "$tmp/$t" >"$log" 2>&1; then
      echo "smoke $t: ${secs}s, $(summary "$log")"
    else
      echo "smoke $t: FAILED (log: $log)"
      grep -E "ERROR|SUMMARY|fuzz invariant|runtime error|Test unit written" "$log" | tail -15
      fail=1
    fi
  done
  return $fail
}

# "N runs, N exec/s, cov: N ft: N" from a plain (non-fork) libFuzzer log.
summary() {
  local log=$1
  local runs secs eps cov
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  echo "${runs:-?} runs, ${eps:-?} exec/s, ${cov:-cov: ? ft: ?}"
}

long_run() {
  local t=$1 execs=$2 jobs=${3:-1}
  local work=$build/corpus-$t log=$build/long-$t.log art
  art=$(artifacts "$t")
  mkdir -p "$work"
  cp -n "tests/fuzz/corpus/$t"/* "$work/"
  local before
  before=$(find "$art" -type f | wc -l)
  local extra=()
  [ "$jobs" -gt 1 ] && extra=(-fork="$jobs")
  local rc=0 start end
  start=$(date +%s)
  "$(bin "$t")" "${fuzz_flags[@]}" "${extra[@]}" -runs="$execs" -artifact_prefix="$art" \
    "$work" >"$log" 2>&1 || rc=$?
  end=$(date +%s)
  local found
  found=$(( $(find "$art" -type f | wc -l) - before ))
  local runs eps cov
  if [ "$jobs" -gt 1 ]; then
    # Fork mode: "#N: cov: C ft: F corp: K exec/s E oom/timeout/crash: a/b/c time: Ts ..."
    local last
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
    runs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    eps=$(sed -nE 's/.*exec\/s ([0-9]+).*/\1/p' <<<"$last")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$last")
  else
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  fi
  echo "long $t: executions ${runs:-?} in $((end - start)) s, ${eps:-?} exec/s, ${cov:-cov: ? ft: ?}," \
       "corpus $(ls "$work" | wc -l) files, crashes/leaks/timeouts: $found, exit $rc"
  echo "log: $log"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    grep -E "ERROR|SUMMARY|fuzz invariant|runtime error|Test unit written" "$log" | tail -15
    return 1
  fi
}

mode=${1:-}
case $mode in
  replay)
    build_targets
    replay ;;
  smoke)
    [ $# -le 2 ] || usage
    build_targets
    smoke "${2:-40}" ;;
  long)
    [ $# -ge 3 ] && [ $# -le 4 ] || usage
    check_target "$2"
    [[ $3 =~ ^[0-9]+$ ]] && [[ ${4:-1} =~ ^[1-9][0-9]*$ ]] || usage
    build_targets
    long_run "$2" "$3" "${4:-1}" ;;
  *)
    usage ;;
esac
