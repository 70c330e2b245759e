#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the committed libFuzzer seed corpus in tests/fuzz/corpus/:
#   load/    model.onnx of every supported conformance case (cases.txt), named
#            by case; hand_*: the other dtypes and optional inputs/outputs
#            (tests/fuzz/gen_seeds.py); hostile_*: the small malformed
#            models of the hostile catalogue
#   run/     the conformance and hand-made models, and the hostile models
#            that load
#   grad/    the same models as run/
#   tensor/  input_*.pb / output_*.pb of a handful of conformance cases and
#            the hostile .pb files
# The conformance data comes from Debian's python3-onnx through
# tests/conformance/gen_data.py, the other models from gen_seeds.py and
# tests/hostile/gen_cases.py; all are deterministic, so rerunning this
# reproduces the corpus byte for byte.
#
#   bash tools/fuzz-seeds.sh [WORKDIR]     (default build-fuzz/seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-build-fuzz/seeds}
py=/usr/bin/python3
corpus=tests/fuzz/corpus
mkdir -p "$work"
"$py" tests/conformance/gen_data.py "$work/onnx-test-data"
rm -rf "$work/hostile" "$work/hand"
"$py" tests/hostile/gen_cases.py "$work/hostile" >/dev/null
"$py" tests/fuzz/gen_seeds.py "$work/hand"
node=$work/onnx-test-data/node

rm -rf "$corpus/load" "$corpus/run" "$corpus/tensor" "$corpus/grad"
mkdir -p "$corpus/load" "$corpus/run" "$corpus/tensor" "$corpus/grad"

# Every case the conformance runner must pass, as load and run seeds.
grep -v '^#' tests/conformance/cases.txt | grep . | while read -r c; do
  cp "$node/$c/model.onnx" "$corpus/load/${c#test_}.onnx"
  cp "$node/$c/model.onnx" "$corpus/run/${c#test_}.onnx"
done

for f in "$work"/hand/*.onnx; do
  cp "$f" "$corpus/load/hand_$(basename "$f")"
  cp "$f" "$corpus/run/hand_$(basename "$f")"
done

# Hostile models: small malformed variants for the loader. Not the x_* size
# cases, the 34 KB nesting case or the random-bytes one, nor the e_*
# external-data ones (they name files beside the model, one by absolute
# path). The r_* models load and fail at run time: run seeds too.
for f in "$work"/hostile/*.onnx; do
  b=$(basename "$f")
  case $b in x_*|e_*|w_deep_nesting.onnx|ti_deep_nesting.onnx|w_random.onnx|w_empty.onnx) continue ;; esac
  cp "$f" "$corpus/load/hostile_$b"
  case $b in r_*) cp "$f" "$corpus/run/hostile_$b" ;; esac
done

# Tensors: the dtypes the data sets use (float, uint8, int64), ranks 0-4.
for c in test_relu test_conv_with_strides_padding test_maxpool_2d_uint8 \
         test_maxpool_with_argmax_2d_precomputed_pads test_gemm_default_scalar_bias \
         test_flatten_axis0; do
  for f in "$node/$c"/test_data_set_0/*.pb; do
    cp "$f" "$corpus/tensor/${c#test_}_$(basename "$f")"
  done
done
for f in "$work"/hostile/*.pb; do
  if [ -s "$f" ]; then cp "$f" "$corpus/tensor/hostile_$(basename "$f")"; fi
done

cp "$corpus/run"/* "$corpus/grad/"

echo "seed corpus: $(ls "$corpus/load" | wc -l) load, $(ls "$corpus/run" | wc -l) run, $(ls "$corpus/grad" | wc -l) grad," \
     "$(ls "$corpus/tensor" | wc -l) tensor files; $(du -sb "$corpus" | cut -f1) bytes"
