#!/usr/bin/env bash
# Prints the benchmarks in one run: the DSP and model steps natively and in
# WebAssembly under node (with the WASM/native ratio), then one decoder hop in
# the core against ONNX Runtime (node and web) on the same graph and weights, and
# what a model switch costs the audio thread (file parsing vs model image).
# Run after scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# Benchmark graphs (real-sized weights, not committed): written once, seeded.
models=build/bench-models
[ -f "$models/manifest.json" ] ||
  PYTHONPATH=scripts /usr/bin/python3 -m timbrel.golden.nn --bench --out "$models" >/dev/null

native="$(build/tests/timbrel_bench "$models")"
wasm="$(node build-wasm/tests/timbrel_bench.cjs "$models")"
echo "$native"; echo; echo "$wasm"; echo
echo "Side by side (us per call; RT factor = compute seconds per second of audio):"
echo
steps() { sed '/^Resampler quality/q' | grep '^| [a-zA-Z]' | grep -v '^| step'; }
paste -d'\t' <(echo "$native" | steps) <(echo "$wasm" | steps) |
  awk -F'\t' 'BEGIN { printf "| %-44s | %11s | %11s | %9s | %10s |\n|---|---:|---:|---:|---:|\n", "step", "native us", "wasm us", "wasm/nat", "wasm RTF" }
              { split($1, a, "|"); split($2, b, "|"); gsub(/^ +| +$/, "", a[2]);
                printf "| %-44s | %11.2f | %11.2f | %8.2fx | %10.5f |\n", a[2], a[3], b[3], b[3] / a[3], b[4] }'

echo
echo "One decoder hop, core vs ONNX Runtime on the same graph (us per call, 1 thread;"
echo "ONNX Runtime gets the single-step graph with the GRU state as an input):"
echo
ort="$(node tests/bench/ort_bench.mjs --golden "$models")"
core_us() { echo "$1" | grep "^| model step $2 " | awk -F'|' '{ gsub(/ /, "", $3); print $3 }'; }
ort_us() { echo "$ort" | grep "\"engine\":\"$1\",\"graph\":\"$2\"" | sed 's/.*"us":\([0-9.]*\).*/\1/'; }
printf "| %-15s | %9s | %9s | %9s | %9s | %9s | %9s | %10s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n" \
  graph "core nat" "ORT node" "ORT/core" "core wasm" "ORT web" "ORT/core" "wasm/nat"
for g in decoder_hop256 decoder_hop; do
  cn="$(core_us "$native" "$g")"; cw="$(core_us "$wasm" "$g")"
  on="$(ort_us onnxruntime-node "$g")"; ow="$(ort_us onnxruntime-web "$g")"
  awk -v g="$g" -v cn="$cn" -v cw="$cw" -v on="$on" -v ow="$ow" 'BEGIN {
    printf "| %-15s | %9.1f | %9.1f | %8.2fx | %9.1f | %9.1f | %8.2fx | %9.2fx |\n",
           g, cn, on, on / cn, cw, ow, ow / cw, cw / cn }'
done

echo
echo "The Notes panel's batch: 64 GMVAE latents -> mel patches (models/gmvae), the core in"
echo "WebAssembly one patch at a time against ONNX Runtime in batches of 64, one thread each;"
echo "max diff: largest difference from the core's patches (tests/bench/notes_bench.mjs):"
echo
scripts/export-onnx.sh >/dev/null
node tests/bench/notes_bench.mjs --notes 64 --rounds 5 |
  sed 's/[{}"]//g' | tr ',' '\n' | awk -F: '
    BEGIN { printf "| %-17s | %-9s | %8s | %11s | %9s |\n|---|---|---:|---:|---:|\n", "engine", "backend", "notes/s", "us per note", "max diff" }
    { v[$1] = $2 } /^max_abs_diff/ { printf "| %-17s | %-9s | %8.0f | %11.0f | %9.1e |\n", v["engine"], v["backend"], v["notes_per_s"], v["us_per_note"], v["max_abs_diff"] }'

echo
echo "Model switch on the audio thread (ms per call: median / worst of switches 2-12, then the"
echo "first switch; the image steps replace 'load file': tests/bench/dsp_bench.cpp):"
echo
switches() { grep '^| switch '; }
paste -d'\t' <(echo "$native" | switches) <(echo "$wasm" | switches) |
  awk -F'\t' 'BEGIN { printf "| %-44s | %15s | %8s | %15s | %8s |\n|---|---:|---:|---:|---:|\n",
                             "step", "native", "first", "wasm", "first" }
              { split($1, a, "|"); split($2, b, "|"); gsub(/^ +| +$/, "", a[2]); sub(/^switch /, "", a[2]);
                printf "| %-44s | %6.3f / %6.3f | %8.3f | %6.3f / %6.3f | %8.3f |\n",
                       a[2], a[3], a[4], a[5], b[3], b[4], b[5] }'

echo
# The page's own worklet processors under node, switching models while they
# stream: the longest time any one step holds the audio thread.
node tests/bench/model_switch_bench.mjs
