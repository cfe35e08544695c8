#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/README.md): scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 600: the 10-minute runs; scripts/test.sh runs 20)
#   TARGET   model, midi, wav, curve (default: all four, one after the other)
# Builds its targets in build-fuzz/ (scripts/sanitized-build.sh: clang,
# AddressSanitizer + UBSan + libFuzzer). Each target starts from its committed seeds (tests/fuzz/corpus/<t>)
# and the regression files (tests/fuzz/regressions/<t>); new inputs go to
# build-fuzz/corpus/<t>, a crash to build-fuzz/crashes/<t>/ (copy it to
# tests/fuzz/regressions/<t>/ and fix it: ctest replays that folder). Prints a
# line per target: seconds, executions, coverage (libFuzzer's cov:), crashes.
# Exit status 1 when any target crashed (or leaked, or timed out on an input).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model midi wav curve)

scripts/sanitized-build.sh "${targets[@]/#/fuzz_}" || exit 1

failed=0
summary=()
for t in "${targets[@]}"; do
  work="build-fuzz/corpus/$t" crashes="build-fuzz/crashes/$t"
  mkdir -p "$work" "$crashes" "tests/fuzz/regressions/$t"
  log="build-fuzz/fuzz-$t.log"
  options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
           -artifact_prefix="$crashes/")
  case "$t" in
    model) options+=(-max_len=262144 -dict=tests/fuzz/model.dict) ;;
    *) options+=(-max_len=16384) ;;
  esac
  echo "== fuzz $t: $seconds s (log: $log)"
  "build-fuzz/tests/fuzz/fuzz_$t" "${options[@]}" "$work" "tests/fuzz/corpus/$t" \
    "tests/fuzz/regressions/$t" >"$log" 2>&1
  rc=$?
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  found=$(find "$crashes" -type f | wc -l)
  summary+=("$t: ${seconds} s, ${executions:-?} executions, cov ${coverage:-?}, exit $rc, $found crash file(s)")
  if [ $rc -ne 0 ]; then
    failed=1
    tail -40 "$log"
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit $failed
