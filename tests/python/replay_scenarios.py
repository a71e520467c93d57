"""Recorded databases for the replay and export tests: a module of kernels, a
script with its own functions, recorded in a fresh process into <tmp>/call-monitor.

The kernels module is written into the temporary folder (not the tests folder),
so a test can change it and see replay / generated tests catch the change."""
import os
import subprocess
import sys
import textwrap

from _support import check, run_python, subprocess_env

KERNELS = '''
import os
import time

import numpy as np
from callmonitor import intercept


@intercept
def step(u, dt, out=None):
    """One explicit step; writes into `out` when given."""
    if dt < 0:
        raise ValueError(f"dt must be >= 0, got {dt}")
    r = u + dt * np.roll(u, 1)
    if out is not None:
        out[:] = r
    return r


@intercept
def summarize(xs, *rest, scale=1.0, **kw):
    return {"n": len(xs), "total": float(sum(xs)) * scale, "rest": rest, "kw": kw}


@intercept
def scale_in_place(a, factor):
    a *= factor


@intercept
def add(a, b):
    return a + b


@intercept
def crash(x):
    return x  # misbehave here


class Counter:
    def __init__(self, start):
        self.count = start

    @intercept
    def bump(self, by):
        self.count += by
        return self.count


def make_local():
    @intercept
    def local(x):
        return x + 1
    return local
'''

RECORD = '''
import numpy as np
import kernels

u = np.linspace(0.0, 1.0, 50)
for i in range(4):
    kernels.step(u, 0.1 * i)
kernels.step(np.arange(4, dtype=np.float32), 0.5, out=np.zeros(4, np.float32))
try:
    kernels.step(u, -1.0)
except ValueError:
    pass
kernels.summarize([1, 2, 3], "a", np.float32(2.5), scale=2.0, tag=None)
kernels.summarize([4.5], scale=1.0)
kernels.scale_in_place(np.ones(3), 2.0)
for i in range(20):
    kernels.add(i, i * 0.5)
kernels.add(np.ones((2, 3)), np.ones((2, 3), np.float32))
for x in (1, 2, 3, 4):
    kernels.crash(x)
kernels.Counter(10).bump(5)
kernels.make_local()(1)
'''

SCRIPT = '''
from callmonitor import intercept


class Point:
    def __init__(self, x):
        self.x = x


@intercept
def norm2(p, k):
    return p.x * p.x * k


@intercept
def twice(v):
    return v * 2


if __name__ == "__main__":
    print("MAIN BLOCK RAN")
    norm2(Point(3), 2)
    twice(21)
    twice("ab")
'''


# crash() after the recording: call 2 aborts the process, call 3 hangs.
MISBEHAVING = """if x == 2:
        os.abort()
    if x == 3:
        time.sleep(60)
    return x"""


def record_kernels(tmp_path):
    """Writes kernels.py, records RECORD with it; returns the run directory."""
    (tmp_path / "kernels.py").write_text(KERNELS)
    check(run_python(RECORD, tmp_path))
    return _run_dir(tmp_path)


def change_kernels(tmp_path, old, new):
    """Edits kernels.py after the recording (a changed function)."""
    path = tmp_path / "kernels.py"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    for cached in (tmp_path / "__pycache__").glob("kernels.*"):
        cached.unlink()


def record_script(tmp_path):
    """Runs script.py as __main__ (its main block records); returns the run directory."""
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    check(proc)
    assert "MAIN BLOCK RAN" in proc.stdout
    return _run_dir(tmp_path)


def _run_dir(tmp_path):
    run = tmp_path / "call-monitor"
    assert (run / "main" / "data.mdb").is_file(), os.listdir(tmp_path)
    return run


def cli(*args, cwd, timeout=120):
    """The real console command (the venv's `callmonitor` script when there is one)."""
    exe = os.path.join(os.path.dirname(sys.executable), "callmonitor")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "callmonitor"]
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)
