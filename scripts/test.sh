#!/usr/bin/env bash
# Runs every test: the C++ formatting, native (Catch2 via CTest, also under ASan+UBSan), the
# fuzz targets for a short bounded time, Python
# (pytest), the WebAssembly module under node, and the page in headless
# Chromium; then prints the benchmark figures. Installs and builds what is
# missing first. Exit status is non-zero if any suite fails.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh" || exit 1

failed=()
timings=()
run() {
  local name="$1"; shift
  local start=$SECONDS
  echo; echo "== $name"
  if "$@"; then echo "-- $name: ok"; else echo "-- $name: FAILED"; failed+=("$name"); fi
  timings+=("$(printf '%5d s  %s' $((SECONDS - start)) "$name")")
}

run "lint (eslint: page, examples, server, JS tests)" npx --no-install eslint .
# The C++ sources keep the repository's .clang-format (Google style, 100 columns).
format_check() {
  find core wasm tests/core tests/bench tests/fuzz \( -name '*.h' -o -name '*.cpp' \) -print0 |
    xargs -0 clang-format --dry-run --Werror
}
run "format (clang-format --dry-run --Werror)" format_check
run "native tests (ctest)" ctest --test-dir build --output-on-failure -j2 --timeout 600
# One sanitized build (build-fuzz/, clang) for the tests under ASan+UBSan and the fuzzers.
asan_tests() {
  scripts/sanitized-build.sh && ctest --test-dir build-fuzz --output-on-failure -j2 --timeout 600
}
run "native tests under ASan+UBSan" asan_tests
# Each libFuzzer target (tests/fuzz) for 20 s (the 10-minute runs: scripts/fuzz.sh).
run "fuzz targets (libFuzzer, 20 s each)" scripts/fuzz.sh "${TIMBREL_FUZZ_SECONDS:-20}"
run "python tests (pytest)" env PYTHONPATH=scripts timeout -k 30 20m /usr/bin/python3 -m pytest -q tests/python
# --no-concurrent-recompilation: Node 20 can deadlock at a test file's exit (its
# main thread waits for a background TurboFan job that waits for a garbage
# collection only the main thread runs; tests/wasm/transcribe.test.mjs).
# --test-force-exit: a file whose tests are done exits even if something (a
# browser, a timer) still holds its event loop; --test-timeout and `timeout`
# bound a hung test or suite, so a hang fails the run instead of stalling CI.
run "wasm tests (node)" env TIMBREL_CORE_DIR=build-wasm/web timeout -k 30 20m node \
  --no-concurrent-recompilation --test --test-force-exit --test-timeout=600000 tests/wasm/
run "browser tests (chromium)" env TIMBREL_CORE_DIR=build-wasm/web timeout -k 30 35m node --test \
  --test-force-exit --test-timeout=600000 --test-concurrency=1 tests/web/
run "benchmarks (figures, not pass/fail)" timeout -k 30 10m scripts/bench.sh

echo
echo "Time per suite (whole run: $SECONDS s):"
printf '%s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "All test suites passed."
