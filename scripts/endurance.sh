#!/usr/bin/env bash
# The long runs (README, "Reliability"): every engine's WebAssembly build under
# node for SECONDS each (default 1800: 30 minutes) with the shipped models and
# hostile input, memory reported at the start and the end (the module's heap
# must not grow); then the Voice panel in headless Chromium for
# CHROMIUM_SECONDS (default 300) with zero lost quanta. Short versions of both
# run in scripts/test.sh (tests/wasm/endurance.test.mjs, 13 s per engine;
# tests/web/voice-endurance.test.mjs, 60 s).
#
#   scripts/endurance.sh [SECONDS [CHROMIUM_SECONDS [ENGINE...]]]
#   scripts/endurance.sh 300 0 voice midi      # 5 minutes of two engines, no Chromium
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-1800}"
chromium_seconds="${2:-300}"
shift $(( $# > 2 ? 2 : $# ))
export TIMBREL_CORE_DIR="${TIMBREL_CORE_DIR:-build-wasm/web}"
node --expose-gc --no-concurrent-recompilation tests/wasm/endurance.mjs "$seconds" "$@"
if [ "$chromium_seconds" -gt 0 ]; then
  TIMBREL_ENDURANCE_SECONDS="$chromium_seconds" node --test tests/web/voice-endurance.test.mjs
fi
