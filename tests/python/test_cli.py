"""The command line: `callmonitor` / `python -m callmonitor` --help, summary, show, errors."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from _support import check, describe, subprocess_env


def _console_command():
    exe = os.path.join(os.path.dirname(sys.executable), "callmonitor")
    if os.path.exists(exe):
        return [exe]
    found = shutil.which("callmonitor")
    return [found] if found else [sys.executable, "-m", "callmonitor"]


def cli(*args, via="module", cwd=None):
    cmd = ([sys.executable, "-m", "callmonitor"] if via == "module" else _console_command())
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("via", ["module", "console"])
def test_help_lists_the_commands(via):
    proc = check(cli("--help", via=via))
    assert "summary" in proc.stdout and "show" in proc.stdout


def test_summary_lists_functions_and_counts(recorded_db):
    proc = check(cli("summary", recorded_db))
    out = proc.stdout
    assert str(recorded_db) in out
    lines = out.splitlines()
    f_line = next(line for line in lines if "__main__.f" in line)
    g_line = next(line for line in lines if "__main__.g" in line)
    assert " 3 " in f_line and "(x, y=2, *rest, z=3, **kw)" in f_line, out
    assert " 2 " in g_line, out
    assert "5 calls" in out or "calls: 5" in out, out


def test_show_prints_one_call(recorded_db):
    proc = check(cli("show", recorded_db, "f", 2))
    out = proc.stdout
    assert "#2" in out or "call 2" in out, out
    for pattern in (r"\bx\b\W+2\b", r"\by\b\W+3\b", r"\brest\b\W+\(4, 5\)", r"\bz\b\W+6\b",
                    r"extra\W+7\b"):
        assert re.search(pattern, out), (pattern, out)


def test_show_raising_call_shows_exception(recorded_db):
    out = check(cli("show", recorded_db, "g", -1, via="console")).stdout
    assert "ValueError" in out and "negative" in out, out


def test_missing_path_exits_nonzero_with_readable_error(tmp_path):
    missing = tmp_path / "nothing-here"
    for args in (("summary", missing), ("show", missing, "f", 1)):
        proc = cli(*args)
        assert proc.returncode != 0, describe(proc)
        assert str(missing) in proc.stderr, describe(proc)
        assert "Traceback" not in proc.stderr, describe(proc)


def test_show_out_of_range_exits_nonzero(recorded_db):
    proc = cli("show", recorded_db, "f", 99)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, describe(proc)
    assert re.search(r"\b1\s*(\.\.|-|to|…)\s*3\b", proc.stderr), describe(proc)


def test_unknown_command_exits_nonzero():
    proc = cli("frobnicate")
    assert proc.returncode != 0 and proc.stderr
