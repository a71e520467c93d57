"""The C++ reader tool (tools/callmonitor_dump.cpp) reads what Python recorded, without Python.

tools/test.sh builds it into build/cpp before pytest runs; CALLMONITOR_DUMP
overrides the path. A missing binary fails the test: it is part of the product.
"""
import os
import subprocess
from pathlib import Path

import pytest

from _support import check
from test_cli import cli as run_cli

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
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert proc.stderr.count("\n") == 1
    check(run_recorder(RECORD, tmp_path))
    proc = run_dump(dump_tool, "call-monitor", "kernel", "9", cwd=tmp_path)
    assert proc.returncode == 1 and "kernel" in proc.stderr
    proc = run_dump(dump_tool, "call-monitor", "nosuch", "1", cwd=tmp_path)
    assert proc.returncode == 1 and "nosuch" in proc.stderr
    proc = run_dump(dump_tool, "--bogus", cwd=tmp_path)
    assert proc.returncode == 2


FORKED = '''
import os
from callmonitor import intercept

@intercept
def step(i):
    return i + 1

step(0)
pid = os.fork()
if pid == 0:
    step(100)
    step(101)
    os._exit(0)
os.waitpid(pid, 0)
print(pid)
'''


@pytest.mark.integration  # forks a recording child: real processes (test-sanitized.sh leaves them out)
def test_a_run_of_several_writers_reads_as_the_python_reader_does(tmp_path, run_recorder, dump_tool):
    # GIVEN a run with main and a forked child's writer WHEN dumped THEN both writers are
    # listed in the same order as load() lists them, a call needs a writer chosen, and
    # --pid / --writer choose it.
    import callmonitor
    child = int(check(run_recorder(FORKED, tmp_path)).stdout)
    proc = run_dump(dump_tool, "call-monitor", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("writer ")]
    with callmonitor.load(tmp_path / "call-monitor") as db:
        assert listed == db.writers == ["main", f"pid-{child}"]
    proc = run_dump(dump_tool, "call-monitor", "step", "1", cwd=tmp_path)
    assert proc.returncode == 1 and "2 writers" in proc.stderr and "--pid" in proc.stderr, proc.stderr
    proc = run_dump(dump_tool, "--pid", str(child), "call-monitor", "step", "-1", cwd=tmp_path)
    assert proc.returncode == 0 and "i = 101" in proc.stdout and f"pid-{child}" in proc.stdout, proc.stderr
    proc = run_dump(dump_tool, "--writer", "main", "call-monitor", "step", "1", cwd=tmp_path)
    assert proc.returncode == 0 and "i = 0" in proc.stdout, proc.stderr
    proc = run_dump(dump_tool, "--rank", "3", "call-monitor", cwd=tmp_path)
    assert proc.returncode == 2 and "no writer matches" in proc.stderr


def test_without_a_path_the_newest_run_is_read_and_a_folder_counts_each_writer_once(
        tmp_path, run_recorder, dump_tool):
    # GIVEN two runs and a merge of the first beside them WHEN dumped without a path THEN
    # the newest run is shown; WHEN the folder is dumped THEN each writer appears once.
    check(run_recorder(RECORD, tmp_path))
    check(run_recorder(RECORD.replace("fails(7)", "fails(8)"), tmp_path))
    check(run_cli("merge", tmp_path / "merged", tmp_path / "call-monitor"))
    proc = run_dump(dump_tool, "fails", "1", cwd=tmp_path)
    assert proc.returncode == 0 and "bad n=8" in proc.stdout, proc.stderr
    proc = run_dump(dump_tool, ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("writer ")]
    assert listed == ["call-monitor/main", "call-monitor-1/main"], proc.stdout
