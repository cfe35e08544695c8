#!/usr/bin/env bash
# Builds build-fuzz/: clang with AddressSanitizer + UBSan and libFuzzer's
# coverage, at -O1 with line tables (enough for symbolized reports, quick to
# compile). One sanitized build serves both the native tests under ASan+UBSan
# (scripts/test.sh) and the libFuzzer targets (scripts/fuzz.sh).
#   scripts/sanitized-build.sh [TARGET...]   (default: every target)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DTIMBREL_FUZZ=ON -DTIMBREL_WERROR=ON \
    -DCMAKE_BUILD_TYPE=Sanitized -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 >/dev/null
fi
if [ $# -gt 0 ]; then
  cmake --build build-fuzz --target "$@"
else
  cmake --build build-fuzz
fi
