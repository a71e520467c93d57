#!/usr/bin/env bash
# The main job on a bundled example: record a real program, show the database
# and one of its calls, replay the calls, run a regression test generated from
# them, derive the API they were used with, record the same program's numpy
# calls without editing it, and record it as 2 MPI ranks. Works on a fresh
# Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/callmonitor-example.XXXXXX")
cd "$WORK"

echo; echo "== 1. record: python examples/heat_diffusion.py (kernels decorated with @intercept)"
"$ROOT/.venv/bin/python" "$ROOT/examples/heat_diffusion.py" --size 64 --steps 30

echo; echo "== 2. the database: callmonitor summary $WORK/call-monitor"
"$ROOT/.venv/bin/callmonitor" summary call-monitor

echo; echo "== 3. one call: callmonitor show call-monitor step 3"
"$ROOT/.venv/bin/callmonitor" show call-monitor step 3

echo; echo "== 4. from Python: load(...).get('step', 3)"
"$ROOT/.venv/bin/python" - <<'PY'
import callmonitor
db = callmonitor.load("call-monitor")
args, kwargs = db.get("step", 3)
u = args[0]
print(f"args[0]: ndarray {u.dtype} {u.shape}, sum {u.sum():.6f}; alpha={args[1]}, dt={args[2]:.3g}, dx={args[3]}")
print(f"result of laplacian call #1 has shape {db.call('laplacian', 1).result.shape}")
PY
echo; echo "== 4a. replay: every recorded step again, against the current code (exit 1 on a mismatch)"
"$ROOT/.venv/bin/callmonitor" replay call-monitor step --check

echo; echo "== 4b. a regression test from the recorded calls: export-tests, then pytest"
"$ROOT/.venv/bin/callmonitor" export-tests call-monitor step --distinct --to test_step_recorded.py
"$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider test_step_recorded.py

echo; echo "== 4c. the API really used: callmonitor api (types with counts; .pyi stubs)"
"$ROOT/.venv/bin/callmonitor" api call-monitor --stubs stubs --force
sed -n '1,25p' stubs/*.pyi

echo; echo "== 4d. inside a call: what step calls, per call site over all 30 steps (callmonitor profile)"
"$ROOT/.venv/bin/callmonitor" profile call-monitor step

echo; echo "== 4e. no code changes: the numpy calls of the same program (callmonitor run --to numpy)"
"$ROOT/.venv/bin/callmonitor" run -o numpy-calls --to numpy "$ROOT/examples/heat_diffusion.py" --size 32 --steps 5 >/dev/null
"$ROOT/.venv/bin/callmonitor" summary numpy-calls | head -20

echo; echo "== 5. many writers: the same program as 2 MPI ranks (mpirun), one run directory"
MPIRUN=(mpirun -n 2 --oversubscribe); [ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
"${MPIRUN[@]}" "$ROOT/.venv/bin/python" "$ROOT/examples/heat_diffusion.py" --size 32 --steps 10 >/dev/null
"$ROOT/.venv/bin/callmonitor" summary call-monitor-1
"$ROOT/.venv/bin/callmonitor" show call-monitor-1 total_heat 1 --rank 1

echo; echo "(recorded into $WORK/call-monitor and $WORK/call-monitor-1)"
