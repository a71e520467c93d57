"""Load and soak: 10,000,000 small calls in one run with memory staying bounded, while
another process polls the live database."""
import pytest
import subprocess
import sys
import time

import callmonitor
from _support import describe, subprocess_env

pytestmark = pytest.mark.integration  # real processes: mpirun, forks, kills

CALLS = 10_000_000

# Prints its peak RSS (KiB) after the first million calls and at the end: the growth in
# between must stay below the writer's buffer bound, not grow with the number of calls.
SOAK = '''
import resource, sys, time
import callmonitor
from callmonitor import intercept

@intercept
def f(i, x):
    return i

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

n = int(sys.argv[1])
t = time.perf_counter()
for i in range(1, 1_000_001):
    f(i, 0.5)
early = peak_kib()
print("started", flush=True)
for i in range(1_000_001, n + 1):
    f(i, 0.5)
flushed = callmonitor.flush()
print(flushed, callmonitor.stats()["dropped_calls"], f"{time.perf_counter() - t:.1f}", early, peak_kib())
'''

BUFFER_BOUND_KIB = 64 << 10      # WriterOptions::maxBufferBytes default
# While one batch commits, its bytes live twice: in the writer's buffer and in LMDB's
# dirty pages of the transaction. So the bound is two buffers, plus slack.
MEMORY_BOUND_KIB = 2 * BUFFER_BOUND_KIB + (32 << 10)


@pytest.mark.big_memory
def test_ten_million_calls_with_bounded_memory_while_a_reader_polls(tmp_path):
    # GIVEN a program making 10,000,000 small intercepted calls, WHILE this process polls
    # the live database (fresh load(), len(), the last call), THEN every call is stored, the
    # recorder's peak memory grows by less than two buffer bounds after the first million,
    # and every poll sees a consistent, growing prefix.
    script = tmp_path / "soak.py"
    script.write_text(SOAK)
    proc = subprocess.Popen([sys.executable, str(script), str(CALLS)], cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    polls, seen = 0, 0
    try:
        assert proc.stdout.readline() == "started\n", proc.stderr.read()
        run_dir = tmp_path / "call-monitor"
        while proc.poll() is None:
            with callmonitor.load(run_dir) as db:
                n = len(db)
                assert n >= seen, f"poll {polls}: {n} calls after {seen}"
                if n:
                    last = db.call("f", n)
                    assert last.invocation == n and last.args == [n, 0.5], (n, last.args)
                seen = n
            polls += 1
            time.sleep(0.05)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, describe(proc)
    flushed, dropped, seconds, early, peak = out.split()
    assert (flushed, dropped) == ("True", "0"), out
    growth = int(peak) - int(early)
    print(f"soak: {CALLS} calls in {seconds} s, peak RSS {int(peak) >> 10} MiB "
          f"(+{growth >> 10} MiB after the first million), {polls} reader polls")
    assert growth < MEMORY_BOUND_KIB, f"peak RSS grew by {growth} KiB: {out}"
    assert polls >= 10, f"only {polls} polls while recording"
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert len(db) == CALLS
        assert db.get("f", -1) == ([CALLS, 0.5], {})
        assert db.call("f", CALLS // 2).args == [CALLS // 2, 0.5]
