"""The recording session of this process: where it writes, and its lifecycle
(opened by the native recorder at the first recorded call, flushed and closed
at exit, replaced in a forked child)."""
import atexit
import os
import socket
import sys
import threading
import time

from .. import _core
from .._version import __version__
from .settings import CONFIG

# Set in a forked child: the parent's run directory, which the child joins.
_state = {"parent_run_dir": None}


def _claim_run_dir(base):
    """Creates and returns the first free of base, base-1, base-2, ...
    (mkdir is atomic: two processes never get the same directory)."""
    parent = os.path.dirname(os.path.abspath(base))
    os.makedirs(parent, exist_ok=True)
    candidate, n = base, 0
    while True:
        try:
            os.mkdir(candidate)
            return os.path.abspath(candidate)
        except FileExistsError:
            n += 1
            candidate = f"{base}-{n}"


def open_session():
    """Called by the native recorder at the first recorded call of a session."""
    if _state["parent_run_dir"]:
        run_dir = _state["parent_run_dir"]
        writer_id = f"pid-{os.getpid()}"
    else:
        run_dir = _claim_run_dir(CONFIG.base_output())
        writer_id = CONFIG.writer_id or "main"
    return {
        "directory": os.path.join(run_dir, writer_id),
        "run_directory": run_dir,
        "writer_id": writer_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "rank": -1,
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
    }


def flush():
    """Commit every call recorded so far. Returns False if the writer failed."""
    return _core.flush()


def close():
    """Flush and close this process's writer. The next recorded call opens a
    new run directory (``call-monitor-1``, ...)."""
    _core.close()
    _state["parent_run_dir"] = None


def output_directory():
    """The run directory of the current session, or None before the first call."""
    return _core.output_directory()


def stats():
    """Capture counters of the current session."""
    return _core.stats()


def _after_fork_in_child():
    # LMDB forbids using the parent's environment: the child records into its
    # own writer directory inside the same run directory.
    parent = _core.output_directory()
    _core._after_fork_child()
    _state["parent_run_dir"] = parent


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


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
