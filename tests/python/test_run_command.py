"""`callmonitor run`: the program runs as `python` would run it (argv, stdin,
stdout, stderr, sys.path[0], __main__, exit status), its calls into the
watched package are recorded, and one line on stderr says what and where."""
import subprocess
import sys
import textwrap

import pytest

import callmonitor
from _support import describe, subprocess_env

pytestmark = pytest.mark.integration

SCRIPT = """
    import sys
    import numpy as np

    def main():
        data = sys.stdin.read()
        print("argv", sys.argv)
        print("path0", sys.path[0])
        print("name", __name__)
        print("sum", np.add(np.arange(3), len(data)).tolist())
        print("to stderr", file=sys.stderr)
        if "--raise" in sys.argv:
            raise LookupError("the program's own error")
        if "--exit" in sys.argv:
            sys.exit(int(sys.argv[-1]))

    if __name__ == "__main__":
        main()
"""


def _run(cwd, *args, input=""):
    return subprocess.run([sys.executable, "-m", "callmonitor", "run", *args], cwd=cwd,
                          env=subprocess_env(), input=input, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def program(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "prog.py").write_text(textwrap.dedent(SCRIPT))
    return tmp_path


def _last_line(proc):
    return proc.stderr.rstrip("\n").splitlines()[-1]


def test_a_script_runs_as_python_runs_it_and_its_calls_are_recorded(program):
    proc = _run(program, "-o", "out", "--to", "numpy", "sub/prog.py", "a", "-o", "x", input="hello")
    assert proc.returncode == 0, describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "argv ['sub/prog.py', 'a', '-o', 'x']"     # the options after the script are its own
    assert lines[1] == f"path0 {program / 'sub'}"
    assert lines[2] == "name __main__"
    assert lines[3] == "sum [5, 6, 7]"                             # stdin reached the program
    assert proc.stderr.startswith("to stderr\n")
    assert _last_line(proc) == ("callmonitor run: recorded 2 calls of 2 functions of numpy into "
                                "out (1 writer)")
    with callmonitor.load(program / "out") as db:
        assert db.call("numpy.add", 1).args[1] == 5
        assert {f.full_name for f in db.functions} == {"numpy.add", "numpy.arange"}


def test_a_module_runs_with_dash_m_and_keeps_its_arguments(program):
    proc = _run(program / "sub", "--to", "numpy", "--values", "summary", "-m", "prog", "--exit", "-m", "0")
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.splitlines()[0] == f"argv ['{program / 'sub' / 'prog.py'}', '--exit', '-m', '0']"
    assert proc.stdout.splitlines()[1] == f"path0 {program / 'sub'}"
    assert "recorded 2 calls" in _last_line(proc)
    with callmonitor.load(program / "sub" / "call-monitor") as db:
        # np.arange(3)'s 24 bytes take less room than a summary: summary mode keeps it as
        # it is (larger arrays become ValueSummary: tests/python/test_watch.py)
        arg = db.call("numpy.add", 1).args[0]
        assert type(arg).__name__ == "ndarray" and arg.tolist() == [0, 1, 2]
        assert db.call("numpy.arange", 1).args == [3]


def test_the_exit_status_and_an_uncaught_exception_are_the_programs(program):
    proc = _run(program, "--to", "numpy", "sub/prog.py", "--exit", "7")
    assert proc.returncode == 7, describe(proc)
    assert _last_line(proc).startswith("callmonitor run: recorded 2 calls")
    proc = _run(program, "--to", "numpy", "sub/prog.py", "--raise")
    assert proc.returncode == 1, describe(proc)
    err = proc.stderr.splitlines()
    assert err[-2] == "LookupError: the program's own error"
    assert 'prog.py", line' in proc.stderr and "trace/run.py" not in proc.stderr
    assert err[-1].startswith("callmonitor run: recorded 2 calls")


def test_calls_from_other_modules_are_left_out_with_from(program):
    proc = _run(program, "--to", "numpy", "--from", "somewhere_else", "sub/prog.py")
    assert proc.returncode == 0, describe(proc)
    assert _last_line(proc) == ("callmonitor run: no calls of numpy (from somewhere_else) were "
                                "recorded (nothing written)")


@pytest.mark.parametrize("args, message", [
    (["--to", "numpy", "--every", "0", "sub/prog.py"], "every"),
    (["--to", "numpy", "--sample", "1.5", "sub/prog.py"], "sample"),
    (["--to", "numpy", "missing.py"], "missing.py: no such script"),
    (["--to", "numpy"], "nothing to run"),
    (["--to", "no_such_package_here", "sub/prog.py"], "cannot watch 'no_such_package_here'"),
])
def test_bad_requests_get_one_clear_line(program, args, message):
    proc = _run(program, *args)
    assert proc.returncode != 0
    assert proc.stderr.startswith("callmonitor run: error: ") and message in proc.stderr, describe(proc)
    assert "Traceback" not in proc.stderr


def test_policy_flags_apply_to_the_watched_calls(program):
    proc = _run(program, "-o", "out", "--to", "numpy", "--max-calls", "1", "sub/prog.py")
    assert proc.returncode == 0, describe(proc)
    with callmonitor.load(program / "out") as db:
        add = next(f for f in db.functions if f.full_name == "numpy.add")
        assert add.kept == 1 and add.policy == "max_calls=1"
