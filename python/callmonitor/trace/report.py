"""The one line that ends a traced run: what was recorded, and where."""
import os
from typing import Optional, Sequence

from .. import _core


def _relative(path):
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


def summary_line(prefix: str, packages: Sequence[str], from_modules: Sequence[str] = (),
                 run_dir: Optional[str] = None) -> str:
    """E.g. "callmonitor run: recorded 1,234 calls of 56 functions of numpy
    (from pint) into call-monitor-1 (2 writers)". Commits this process's
    calls first; counts every writer of the run (worker processes too).
    run_dir: the run directory when this process did not record itself."""
    from ..read.database import load
    what = ", ".join(packages)
    if from_modules:
        what += f" (from {', '.join(from_modules)})"
    _core.flush()
    run_dir = run_dir or _core.output_directory() or joined_run_directory()
    if run_dir is None or not os.path.isdir(run_dir):
        return f"{prefix}: no calls of {what} were recorded (nothing written)"
    try:
        with load(run_dir) as db:
            watched = [f for f in db.functions if _in(f.module, packages)]
            others = [f for f in db.functions if not _in(f.module, packages)]
            writers = len(db.writers)
    except Exception as e:  # the program ran; say what we know
        return f"{prefix}: recorded calls of {what} into {_relative(run_dir)} (could not count them: {e})"
    text = (f"{prefix}: recorded {_count(watched, 'call')} of {_count_names(watched)} of {what} "
            f"into {_relative(run_dir)} ({writers} writer{'s' if writers != 1 else ''})")
    if others:  # @intercept functions of the program itself
        text = text[:-1] + f"; also {_count(others, 'call')} of {_count_names(others)} it intercepts)"
    return text


def _in(module, packages):
    return any(module == p or module.startswith(p + ".") for p in packages)


def _count(functions, noun):
    n = sum(f.calls for f in functions)  # one FunctionInfo per (function, writer)
    return f"{n:,} {noun}{'s' if n != 1 else ''}"


def _count_names(functions):
    n = len({f.full_name for f in functions})
    return f"{n} function{'s' if n != 1 else ''}"


def joined_run_directory() -> Optional[str]:
    """The run directory that processes started by this one joined, when
    this process recorded nothing itself (an xdist controller, a launcher):
    the candidate whose marker holds this process's exported run id. Never
    creates one. None if there is none."""
    from ..capture import launcher, run_directory
    from ..capture.settings import CONFIG
    run_id = os.environ.get(launcher.PARENT_RUN_ID_VAR)
    base = CONFIG.base_output()
    for n in range(10000):
        candidate = os.path.abspath(base if n == 0 else f"{base}-{n}")
        if not os.path.isdir(candidate):
            return None
        if run_id and run_directory.read_run_id(candidate) == run_id:
            return candidate
    return None
