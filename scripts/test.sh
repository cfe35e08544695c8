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
run() {
  local name="$1"; shift
  echo; echo "== $name"
  if "$@"; then echo "-- $name: ok"; else echo "-- $name: FAILED"; failed+=("$name"); fi
}

run "lint (eslint: page, examples, server, JS tests)" npx --no-install eslint .
# The C++ sources keep the repository's .clang-format (Google style, 100 columns).
format_check() {
  find core wasm tests/core tests/bench tests/fuzz \( -name '*.h' -o -name '*.cpp' \) -print0 |
    xargs -0 clang-format --dry-run --Werror
}
run "format (clang-format --dry-run --Werror)" format_check
run "native tests (ctest)" ctest --test-dir build --output-on-failure -j2
asan_tests() {
  [ -f build-asan/build.ninja ] || cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DTIMBREL_SANITIZE=ON -DTIMBREL_WERROR=ON >/dev/null
  cmake --build build-asan && ctest --test-dir build-asan --output-on-failure -j2
}
run "native tests under ASan+UBSan" asan_tests
# Each libFuzzer target (tests/fuzz) for 25 s (the 10-minute runs: scripts/fuzz.sh).
run "fuzz targets (libFuzzer, 25 s each)" scripts/fuzz.sh "${TIMBREL_FUZZ_SECONDS:-25}"
run "python tests (pytest)" env PYTHONPATH=scripts /usr/bin/python3 -m pytest -q tests/python
# --no-concurrent-recompilation: Node 20 can deadlock at a test file's exit (its
# main thread waits for a background TurboFan job that waits for a garbage
# collection only the main thread runs; tests/wasm/transcribe.test.mjs).
run "wasm tests (node)" env TIMBREL_CORE_DIR=build-wasm/web node --no-concurrent-recompilation \
  --test tests/wasm/
run "browser tests (chromium)" env TIMBREL_CORE_DIR=build-wasm/web node --test --test-concurrency=1 tests/web/
run "benchmarks (figures, not pass/fail)" scripts/bench.sh

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "All test suites passed."
