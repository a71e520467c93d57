#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build/fuzz and runs
# each one for a fixed time. Usage:
#
#   bash tools/fuzz.sh [SECONDS]      # default 30 s per target (what CI runs)
#   bash tools/fuzz.sh 3600           # an hour each, for a real hunt
#
# Seeds are regenerated from real records (callmonitor-fuzz-seeds) into
# build/fuzz/seeds/<target>; the growing corpus stays in build/fuzz/corpus/
# <target> between runs. A finding (crash, sanitizer report, leak, timeout,
# an allocation above 256 MB) is written to build/fuzz/findings/<target>/ and
# makes the script fail; reproduce it with
#   build/fuzz/fuzz_<target> build/fuzz/findings/<target>/<file>
# and keep it as a regression test (tests/cpp/test_fuzz_regressions.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-30}"
TARGETS=(decode_records open_database)
B=build/fuzz

# -O1 -gline-tables-only, as OSS-Fuzz builds: fast to build, fast enough to run.
cmake -S . -B "$B" -DCMAKE_CXX_COMPILER=clang++ -DCALLMONITOR_FUZZ=ON -DCMAKE_BUILD_TYPE=None \
      "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only" \
      -DCALLMONITOR_PYTHON=OFF -DCALLMONITOR_TESTS=OFF -DCALLMONITOR_BENCH=OFF >/dev/null
cmake --build "$B" -j 2 --target callmonitor-fuzz-seeds "${TARGETS[@]/#/fuzz_}" 2>&1 | grep -E "error|warning:" || true
cmake --build "$B" -j 2 --target callmonitor-fuzz-seeds "${TARGETS[@]/#/fuzz_}" >/dev/null

rm -rf "$B/seeds"
"$B/callmonitor-fuzz-seeds" "$B/seeds" >/dev/null
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t" "$B/findings/$t"
  log="$B/findings/$t.log"
  if "$B/fuzz_$t" -max_total_time="$SECONDS_EACH" -malloc_limit_mb=256 -rss_limit_mb=1024 -timeout=10 \
       -print_final_stats=1 -artifact_prefix="$B/findings/$t/" "$B/corpus/$t" "$B/seeds/$t" >"$log" 2>&1; then
    runs=$(grep -m1 -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
    echo "fuzz_$t: $runs executions in ${SECONDS_EACH} s, no finding (corpus: $(ls "$B/corpus/$t" | wc -l) inputs)"
  else
    status=1
    echo "fuzz_$t: FINDING (log: $log; input in $B/findings/$t/):" >&2
    grep -E "ERROR|runtime error|Assertion|SUMMARY|Test unit written" "$log" | head -20 >&2
  fi
done
exit "$status"
