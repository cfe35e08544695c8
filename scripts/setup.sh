#!/usr/bin/env bash
# Installs what is missing (Debian packages, npm packages, Debian sources for
# the WebAssembly build) and builds the native and WebAssembly targets.
# Safe to re-run: each step is skipped when its result is already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

packages=(cmake ninja-build g++ pkg-config clang-format libkissfft-dev libspeexdsp-dev catch2 nlohmann-json3-dev emscripten
          nodejs chromium python3-numpy python3-scipy python3-pytest sox espeak-ng
          python3-torch libopenblas0-pthread python3-mido fluidsynth fluid-soundfont-gm
          timgm6mb-soundfont musescore-general-soundfont-small
          csound-soundfont freepats timidity
          clang libclang-rt-14-dev)  # the libFuzzer targets (tests/fuzz): clang 14 and its libFuzzer
# Not here (CI needs none of it): the drum one-shot corpus's extra sources, about 290 MB installed;
# `python -m timbrel.data drums` names them when missing (scripts/timbrel/data/README.md):
#   sudo apt-get install -y --no-install-recommends hydrogen-drumkits sonic-pi-samples avldrums.lv2-soundfont
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v npm >/dev/null || { echo "npm is missing (it comes with Node.js)"; exit 1; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  # --ignore-scripts: onnxruntime-node's install script downloads from the internet;
  # its CPU binary ships in the package anyway.
  npm ci --ignore-scripts --no-audit --no-fund
fi

scripts/fetch-wasm-deps.sh

werror="${TIMBREL_WERROR:-ON}"
echo "== native build (build/)"
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DTIMBREL_WERROR="$werror"
cmake --build build

echo "== WebAssembly build (build-wasm/)"
# Debian's emscripten finds its JS optimiser's modules (acorn) only here.
export NODE_PATH=/usr/share/nodejs
[ -f build-wasm/build.ninja ] || emcmake cmake -S . -B build-wasm -G Ninja -DTIMBREL_WERROR="$werror"
cmake --build build-wasm

# The Notes panel's batch engine (ONNX Runtime Web) runs the note model's decoder
# as ONNX, written from the shipped .tmbl (the repository ships only the .tmbl);
# source.json names the file it came from, so the page uses it only with that model.
echo "== ONNX graphs of the note model (build-onnx/)"
scripts/export-onnx.sh || echo "warning: the note model's ONNX graphs were not written; the Notes panel decodes with the core only"
