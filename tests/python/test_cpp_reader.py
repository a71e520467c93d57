"""The C++ reader tool (tools/callmonitor_dump.cpp) reads what Python recorded, without Python.

tools/test.sh builds it into build/cpp before pytest runs; CALLMONITOR_DUMP
overrides the path. A missing binary fails the test: it is part of the product.
"""
import os
import subprocess
from pathlib import Path

import pytest

from _support import check

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dump_tool():
    path = Path(os.environ.get("CALLMONITOR_DUMP", ROOT / "build" / "cpp" / "callmonitor-dump"))
    assert path.exists(), f"{path} is missing: build it with `bash tools/test.sh` (or cmake --build build/cpp)"
    return str(path)


RECORD = '''
import numpy as np
from callmonitor import intercept

@intercept
def kernel(x, scale=2.0, *rest, mode="fast", **extra):
    return x * scale

@intercept
def fails(n):
    raise ValueError(f"bad n={n}")

kernel(np.arange(6, dtype=np.float32).reshape(2, 3), 3.0, mode="slow")
kernel(np.ones(2), flag=True)
try:
    fails(7)
except ValueError:
    pass
'''


def run_dump(tool, *args, cwd):
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_lists_functions_with_signatures_and_counts(tmp_path, run_recorder, dump_tool):
    check(run_recorder(RECORD, tmp_path))
    proc = run_dump(dump_tool, "call-monitor", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "kernel(x, scale=2.0, *rest, mode='fast', **extra)" in proc.stdout
    assert "__main__.kernel" in proc.stdout and "__main__.fails" in proc.stdout
    assert any("kernel" in line and " 2" in line for line in proc.stdout.splitlines())


def test_shows_a_call_with_array_arguments_and_result(tmp_path, run_recorder, dump_tool):
    check(run_recorder(RECORD, tmp_path))
    proc = run_dump(dump_tool, "call-monitor", "kernel", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "<f4" in out and "(2, 3)" in out        # the array argument's dtype and shape
    assert "scale = 3.0" in out and "mode = 'slow'" in out
    assert "0, 1, 2" in out.replace(".0", "")       # first elements of x
    proc = run_dump(dump_tool, "call-monitor", "kernel", "-1", cwd=tmp_path)
    assert proc.returncode == 0 and "flag" in proc.stdout and "True" in proc.stdout


def test_shows_an_exception_outcome(tmp_path, run_recorder, dump_tool):
    check(run_recorder(RECORD, tmp_path))
    proc = run_dump(dump_tool, "call-monitor", "fails", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ValueError" in proc.stdout and "bad n=7" in proc.stdout


def test_errors_are_one_line_with_exit_codes(tmp_path, run_recorder, dump_tool):
    proc = run_dump(dump_tool, str(tmp_path / "missing"), cwd=tmp_path)
    assert proc.returncode == 1 and "no such file or directory" in proc.stderr
    assert proc.stderr.count("\n") == 1
    check(run_recorder(RECORD, tmp_path))
    proc = run_dump(dump_tool, "call-monitor", "kernel", "9", cwd=tmp_path)
    assert proc.returncode == 1 and "kernel" in proc.stderr
    proc = run_dump(dump_tool, "call-monitor", "nosuch", "1", cwd=tmp_path)
    assert proc.returncode == 1 and "nosuch" in proc.stderr
    proc = run_dump(dump_tool, "--bogus", cwd=tmp_path)
    assert proc.returncode == 2
