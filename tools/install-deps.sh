#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages onnxgrad needs, only those that are missing.
set -euo pipefail
pkgs=(cmake make gcc pkg-config libprotobuf-c-dev protobuf-c-compiler check libsubunit-dev
      libopenblas-dev python3 python3-onnx python3-numpy valgrind clang-14 libclang-rt-14-dev
      zlib1g-dev gnuplot-nox dataset-fashion-mnist libopenmpi-dev openmpi-bin
      libgraphviz-dev graphviz help2man debootstrap doxygen)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The model tests (tests/models): torch 1.13 and torchvision export the
# models; node and npm install and run onnxruntime-node (from the npm
# registry, at test time).
# node/npm are looked for as commands: a nodejs from elsewhere (e.g.
# NodeSource, which bundles npm) must not be replaced by Debian's.
model_pkgs=(python3-torch python3-torchvision)
missing=()
for p in "${model_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
