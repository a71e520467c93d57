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
from . import launcher, run_directory
from .settings import CONFIG

# Set in a forked child: the parent's run directory and rank, which the child
# joins. `sessions` counts the runs this process opened (close() starts a new
# one), so that the ranks of a job that all close() agree on the next run too.
_state = {"parent_run": None, "sessions": 0, "rank": -1}


def _choose_run():
    """(run directory, writer id, rank, run id) for a new session."""
    base = CONFIG.base_output()
    inherited = _state["parent_run"] or launcher.parent_run(base)
    if inherited:
        run_dir, rank = inherited
        return run_dir, f"pid-{os.getpid()}", rank, run_directory.read_run_id(run_dir) or ""
    launch = launcher.detect()
    session = _state["sessions"]
    if launch.job:
        run_id = f"job:{launch.job}" + (f"#{session}" if session else "")
    else:
        run_id = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    run_dir, created = run_directory.claim_run(base, run_id, shared=bool(launch.job))
    if CONFIG.writer_id:
        writer_id = CONFIG.writer_id
    elif launch.rank >= 0:
        writer_id = f"rank-{launch.rank:04d}"
    else:
        writer_id = "main" if created else f"pid-{os.getpid()}"
    launcher.export_run(run_dir, base, launch.rank)
    return run_dir, writer_id, launch.rank, run_id


def open_session():
    """Called by the native recorder at the first recorded call of a session."""
    run_dir, writer_id, rank, run_id = _choose_run()
    writer_id = run_directory.claim_writer(run_dir, writer_id)
    _state["sessions"] += 1
    _state["rank"] = rank
    return {
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
    }


def flush():
    """Commit every call recorded so far. Returns False if the writer failed."""
    return _core.flush()


def close():
    """Flush and close this process's writer. The next recorded call opens a
    new run directory (``call-monitor-1``, ...)."""
    _core.close()
    _state["parent_run"] = None
    launcher.forget_run()


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
    if parent:
        _state["parent_run"] = (parent, _state["rank"])


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
