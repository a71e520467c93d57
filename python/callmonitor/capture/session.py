"""The recording session of this process: where it writes, and its lifecycle
(opened by the native recorder at the first recorded call, flushed and closed
at exit, replaced in a forked child)."""
import atexit
import functools
import os
import socket
import sys
import threading
import time
from typing import Any, Dict, Optional

from .. import _core
from .._version import __version__
from . import launcher, policy, run_directory
from .settings import CONFIG

# `sessions` counts the runs this process opened (close() starts a new one),
# so that the ranks of a job that all close() agree on the next run too.
# `run`: (run directory, rank, run id, automatic writer id) of the session
# open now, shared by all its writers.
_state: Dict[str, Any] = {"sessions": 0, "run": None}


def _choose_run():
    """(run directory, rank, run id, automatic writer id) for a new session."""
    base = CONFIG.base_output()
    o = launcher.origin(base, _state["sessions"])
    run_dir = run_directory.claim_run(base, o.run_id)
    if o.child:
        writer_id = f"pid-{os.getpid()}"
    elif o.rank >= 0:
        writer_id = f"rank-{o.rank:04d}"
    else:
        writer_id = "main"
    return run_dir, o.rank, o.run_id, writer_id


def export_run():
    """Publishes this process's run to the processes it starts (called at
    import, and whenever the output or the session changes)."""
    launcher.export(CONFIG.base_output(), _state["sessions"],
                    configured=bool(CONFIG.output or launcher.inherited_output()))


def _cannot_record(e: OSError) -> OSError:
    """The error a failed start reports: the output asked for, then the cause
    (``[Errno 17] File exists: 'x'`` alone does not say what was wanted)."""
    cause = e.strerror or str(e)
    if e.filename:
        cause += f": {e.filename}"
    return OSError(e.errno, f"cannot create the run directory {os.path.abspath(CONFIG.base_output())} ({cause})")


def open_session(declared: Optional[str] = None, first: bool = True):
    """Called by the native recorder when it opens a writer: at the first
    recorded call of a session (`first`), and at the first call of a thread
    that declared a writer of its own (`declared`, e.g. "tid-3", from
    Settings().enable_multi_threading) in the session's run directory.
    `declared` None: the process's writer (main, rank-NNNN or pid-N)."""
    if first or _state["run"] is None:
        try:
            _state["run"] = _choose_run()
        except OSError as e:
            raise _cannot_record(e) from e
        _state["sessions"] += 1
    run_dir, rank, run_id, automatic = _state["run"]
    try:
        writer_id = run_directory.claim_writer(run_dir, declared or automatic)
    except OSError as e:
        run_directory.remove_if_empty(run_dir)
        raise _cannot_record(e) from e
    return {
        # Called by the recorder when the environment cannot be created there.
        "discard": functools.partial(run_directory.release_writer, run_dir, writer_id),
        "directory": os.path.join(run_dir, writer_id),
        "run_directory": run_dir,
        "writer_id": writer_id,
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "rank": rank,
        "python_version": sys.version.split()[0],
        "package_version": __version__,
        "argv": [str(a) for a in sys.argv],
        "cwd": os.getcwd(),
        "started_unix_ns": time.time_ns(),
        "map_size": CONFIG.map_size,
        "buffer_bytes": CONFIG.buffer_bytes,
        "flush_interval_ms": max(1, int(CONFIG.flush_interval * 1000)),
        "durability": CONFIG.durability,
        "capture_result": CONFIG.result,
        "strict": CONFIG.strict,
        "label": CONFIG.session_label(),
        **policy.session_options(),
    }


def flush() -> bool:
    """Commit every call recorded so far. Returns False if the writer failed."""
    return _core.flush()


def close() -> None:
    """Flush and close this process's writer. The next recorded call opens a
    new run directory (``call-monitor-1``, ...)."""
    _core.close()
    export_run()


def output_directory() -> Optional[str]:
    """The run directory of the current session, or None before the first call."""
    return _core.output_directory()


def stats() -> dict[str, int]:
    """Capture counters of the current session."""
    return _core.stats()


_os_exit = os._exit


def _exit_after_commit(status):
    """os._exit(status), after committing this process's recorded calls
    (waiting a few seconds at most). A forked child (a multiprocessing
    worker too) ends with os._exit, which skips atexit: without this its
    last calls would be lost."""
    try:
        _core._commit_before_exit(5.0)
    finally:
        _os_exit(status)


_exit_after_commit.__wrapped__ = _os_exit  # type: ignore[attr-defined]


def _after_fork_in_child():
    # LMDB forbids using the parent's environment: the child records into its
    # own writer directory inside the same run directory.
    _core._after_fork_child()
    _state["sessions"] = 0
    _state["run"] = None
    CONFIG.writer_id = None  # the parent's declaration (the native side forgot it too)
    launcher.forked()


def _at_exit():
    from ..handlers import REGISTRY
    try:
        _core.close()
    finally:
        REGISTRY._accumulators_done()


def thread_name():
    return threading.current_thread().name


def warn(message):
    sys.stderr.write(f"callmonitor: warning: {message}\n")
    sys.stderr.flush()


os._exit = _exit_after_commit
os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
export_run()
