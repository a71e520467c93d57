"""Fixtures for the callmonitor Python test-suite.

The recorder is process-wide (the run directory is chosen once per process),
so scenarios about where and how a run is written use `run_recorder`, which
runs code in a fresh interpreter. In-process tests use `recorder`: a temp cwd
and a fresh run directory under it (``callmonitor.close()`` then
``configure(output=...)``).
"""
import os

import pytest

import callmonitor
from _support import check, run_python


@pytest.fixture
def run_recorder():
    """run_recorder(code, cwd, *, env=None, input=None, timeout=60) -> CompletedProcess.

    Runs `code` with sys.executable in `cwd` (PYTHONPATH kept, the tests folder
    appended so `import sample_functions` works; CALLMONITOR_DIR removed unless
    given in `env`). stdout/stderr are text."""
    return run_python


class Recorder:
    """In-process recording into <tmp>/call-monitor."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.base = tmp_path / "call-monitor"
        self._open = []

    @property
    def run_dir(self):
        return callmonitor.output_directory()

    def load(self, allow_pickle=False):
        """flush() and load this process's current run directory."""
        assert callmonitor.flush() is True
        run_dir = callmonitor.output_directory()
        assert run_dir is not None, "nothing was recorded"
        db = callmonitor.load(run_dir, allow_pickle=allow_pickle)
        self._open.append(db)
        return db

    def close_all(self):
        for db in self._open:
            db.close()


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLMONITOR_DIR", raising=False)
    callmonitor.close()
    callmonitor.configure(output=str(tmp_path / "call-monitor"), durability="batch",
                          result=True, strict=False)
    _clear_policies()
    rec = Recorder(tmp_path)
    yield rec
    rec.close_all()
    callmonitor.close()
    _clear_policies()
    _forget_output()


def _forget_output():
    """configure(output=...) is the process's and reaches the processes it
    starts (their environment): no test leaves it to the next one's children."""
    import os
    from callmonitor import _core
    from callmonitor.capture.session import export_run
    from callmonitor.capture.settings import CONFIG
    CONFIG.output = None
    export_run()
    _core._set_output_chosen(bool(os.environ.get("CALLMONITOR_DIR")))


def _clear_policies():
    """configure()'s capture policies are the process's: no test leaves them to the next."""
    from callmonitor.capture.settings import CONFIG
    CONFIG.policy.clear()
    CONFIG.policy_session.clear()


@pytest.fixture
def recorded_db(tmp_path):
    """A small database written by a separate process: returns its run directory.

    f(x, y=2, *rest, z=3, **kw) called 3 times, g(a) twice (second raises)."""
    check(run_python("""
        from callmonitor import intercept

        @intercept
        def f(x, y=2, *rest, z=3, **kw):
            return x

        @intercept
        def g(a):
            if a < 0:
                raise ValueError("negative")
            return a

        f(1)
        f(2, 3, 4, 5, z=6, extra=7)
        f(x=3)
        g(1)
        try:
            g(-1)
        except ValueError:
            pass
    """, tmp_path))
    run_dir = tmp_path / "call-monitor"
    assert (run_dir / "main" / "data.mdb").is_file(), os.listdir(tmp_path)
    return run_dir
