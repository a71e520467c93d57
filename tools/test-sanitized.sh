#!/usr/bin/env bash
# The GoogleTest and pytest suites under AddressSanitizer + UndefinedBehavior-
# Sanitizer, from their own build directory (build/asan, g++ with
# CALLMONITOR_SANITIZE=ON). Called by tools/test.sh after the plain suites;
# expects tools/setup.sh to have run (.venv).
#
# pytest runs Debian's python3.11 (not sanitized) against the sanitized
# extension: the ASan runtime must be loaded first (LD_PRELOAD), leak checks
# are off (the interpreter keeps memory until exit by design), and the package
# is imported from build/asan/pkg: links to python/callmonitor's sources next
# to the sanitized _core module, first on PYTHONPATH (ahead of the editable
# install's plain module). Subprocesses the tests start inherit all three.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/asan

echo "== ASan+UBSan: configure, build ($B)"
# -O1 -g1 and no LTO: half the build time of RelWithDebInfo, still readable reports.
cmake -S . -B "$B" -DCALLMONITOR_SANITIZE=ON -DCALLMONITOR_BENCH=OFF -DCMAKE_BUILD_TYPE=None \
      "-DCMAKE_CXX_FLAGS=-O1 -g1" -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF >/dev/null
cmake --build "$B" -j 2 --target callmonitor_tests _core callmonitor-dump 2>&1 | grep -E "error|warning:" || true
cmake --build "$B" -j 2 --target callmonitor_tests _core callmonitor-dump >/dev/null

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
echo "== ASan+UBSan: GoogleTest"
"$B/callmonitor_tests" --gtest_brief=1

echo "== ASan+UBSan: pytest against the sanitized extension"
rm -rf "$B/pkg" && mkdir -p "$B/pkg/callmonitor"
for entry in python/callmonitor/*; do
  case "$entry" in *.so|*/__pycache__) continue ;; esac
  ln -s "$PWD/$entry" "$B/pkg/callmonitor/"
done
ln -s "$PWD/$(ls $B/python/callmonitor/_core*.so)" "$B/pkg/callmonitor/"
# libstdc++ preloaded too: python3 does not link it, and ASan's __cxa_throw
# interceptor must find the real one at start-up (else every C++ exception
# aborts with "CHECK failed: ... real___cxa_throw").
export LD_PRELOAD="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export PYTHONPATH="$PWD/$B/pkg${PYTHONPATH:+:$PYTHONPATH}"
export CALLMONITOR_DUMP="$PWD/$B/callmonitor-dump"
.venv/bin/python -c "
import callmonitor._core as c, sys
assert '/$B/' in c.__file__, 'pytest would not test the sanitized module: ' + c.__file__
"
# Selected by marker: the unit tests only. Left out here:
# - integration (real processes: mpirun, pools, fork, kills, full disks): the
#   plain pytest run above keeps them; under ASan their subprocesses, timeouts
#   and kill points made this stage 6 min of a 15 min CI budget, while the
#   C++ they drive is the same code the unit tests run in-process.
# - big_memory (a 1 GiB argument, a map grown past 3 GiB, 10 M calls under a
#   memory bound): what they assert (memory bounds) is distorted by ASan's
#   redzones and quarantine.
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider -m "not big_memory and not integration" --durations=10
