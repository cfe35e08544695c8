#!/usr/bin/env bash
# Prints the DSP benchmark natively and in WebAssembly under node, in one run,
# with the WASM/native time ratio per step. Run after scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
native="$(build/tests/timbrel_bench)"
wasm="$(node build-wasm/tests/timbrel_bench.cjs)"
echo "$native"; echo; echo "$wasm"; echo
echo "Side by side (us per call; RT factor = compute seconds per second of audio):"
echo
steps() { sed '/^Resampler quality/q' | grep '^| [a-zA-Z]' | grep -v '^| step'; }
paste -d'\t' <(echo "$native" | steps) <(echo "$wasm" | steps) |
  awk -F'\t' 'BEGIN { printf "| %-44s | %11s | %11s | %9s | %10s |\n|---|---:|---:|---:|---:|\n", "step", "native us", "wasm us", "wasm/nat", "wasm RTF" }
              { split($1, a, "|"); split($2, b, "|"); gsub(/^ +| +$/, "", a[2]);
                printf "| %-44s | %11.2f | %11.2f | %8.2fx | %10.5f |\n", a[2], a[3], b[3], b[3] / a[3], b[4] }'
