#!/usr/bin/env bash
# The whole test suite: GoogleTest (C++ core) and pytest (Python package),
# then both again under ASan + UBSan (tools/test-sanitized.sh, build/asan)
# and a bounded fuzzing run (tools/fuzz.sh, 30 s per target, build/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

echo "== C++: configure, build, GoogleTest (at ${SECONDS} s)"
cmake -S . -B build/cpp -DCALLMONITOR_PYTHON=OFF >/dev/null
cmake --build build/cpp -j "$(nproc)" 2>&1 | grep -vE "lto-wrapper|^\[|Consolidate" || true
cmake --build build/cpp -j "$(nproc)" >/dev/null
(cd build/cpp && ctest --output-on-failure -j "$(nproc)")

echo "== Python: pytest (at ${SECONDS} s)"
.venv/bin/python -m pytest -q -n 2 --durations=15  # pytest-xdist: both cores; the slowest 15 listed

echo "== sanitizers (at ${SECONDS} s)"
bash tools/test-sanitized.sh

echo "== Fuzzing: ${CALLMONITOR_FUZZ_SECONDS:-30} s per target (at ${SECONDS} s)"
bash tools/fuzz.sh "${CALLMONITOR_FUZZ_SECONDS:-30}"
echo "== all passed in ${SECONDS} s"
