"""Recording settings: ``configure(...)`` and callmonitor 0.3's ``Settings``."""
import os
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional, Union

from .. import _core

from .launcher import inherited_output

_DURABILITY = ("batch", "sync")


@dataclass
class _Config:
    output: Optional[str] = None       # base path of the run directory
    map_size: int = 64 << 20           # initial LMDB map size; grows by itself
    buffer_bytes: int = 64 << 20       # bound on recorded-but-uncommitted bytes
    flush_interval: float = 0.1        # seconds between commits (at most)
    durability: str = "batch"          # "sync": commit before each call runs
    result: bool = True                # record return values
    strict: bool = False               # raise on values that cannot be captured
    writer_id: Optional[str] = None    # set by Settings().enable_multi_threading
    label: Optional[str] = None        # a label for every call of the session
    policy: Dict[str, Any] = field(default_factory=dict)          # capture policy of every function
    policy_session: Dict[str, Any] = field(default_factory=dict)  # max_db_bytes, seed

    def base_output(self):
        """The output base: configure(output=...), else the output the process
        that started this one configured (spawn/forkserver workers,
        subprocesses: launcher.inherited_output; unless this process was given
        a $CALLMONITOR_DIR of its own), else $CALLMONITOR_DIR, else
        ./call-monitor."""
        return self.output or inherited_output() or os.environ.get("CALLMONITOR_DIR") or "call-monitor"

    def session_label(self):
        return self.label if self.label is not None else os.environ.get("CALLMONITOR_LABEL", "")


CONFIG = _Config()
_core._set_output_chosen(bool(os.environ.get("CALLMONITOR_DIR")))  # flat_profile records only when chosen

# configure()'s settings by when they take effect: each writer reads these
# when it opens; these belong to the run (its directory, its callers' label).
_WRITER_SETTINGS = ("map_size", "buffer_bytes", "flush_interval", "durability", "result", "strict")
_RUN_SETTINGS = ("output", "label")


class LateSettingsWarning(UserWarning):
    """``configure()`` changed a setting after the first recorded call of a
    run: it applies to writers opened later (or the next run), not to the
    writers already recording."""


_late_warned = {"session": -1}  # the session that was warned (once per session)


def _warn_if_late(before: "_Config") -> None:
    from .. import _core
    from .session import _state
    if not _core._session_open() or _late_warned["session"] == _state["sessions"]:
        return
    changed = [f.name for f in fields(_Config) if getattr(before, f.name) != getattr(CONFIG, f.name)]
    writer_level = [n for n in changed if n in _WRITER_SETTINGS]
    run_level = [n for n in changed if n in _RUN_SETTINGS]
    if not writer_level and not run_level:
        return
    _late_warned["session"] = _state["sessions"]
    parts = []
    if writer_level:
        parts.append(f"{', '.join(writer_level)}: takes effect for writers opened from now on (a thread's first call "
                     "after Settings().enable_multi_threading(tid), or the next run after callmonitor.close()); "
                     "the writers recording now keep their settings")
    if run_level:
        parts.append(f"{', '.join(run_level)}: takes effect for the next run, after callmonitor.close(); this run "
                     f"keeps recording into {_core.output_directory()}")
    warnings.warn("callmonitor.configure() after the first recorded call: " + "; ".join(parts) +
                  ". Call configure() before the first recorded call to set up the whole run "
                  "(this warning is given once per run).", LateSettingsWarning, stacklevel=3)


def configure(output: Union[str, "os.PathLike[str]", None] = None, *, map_size: Optional[int] = None,
              buffer_bytes: Optional[int] = None, flush_interval: Optional[float] = None,
              durability: Optional[str] = None, result: Optional[bool] = None,
              strict: Optional[bool] = None, label: Optional[str] = None, **policy: Any) -> None:
    """Set how and where calls are recorded. Takes effect for the next run
    directory: call it before the first recorded call (or after ``close()``).

    output:         base path; ``./call-monitor`` by default (or $CALLMONITOR_DIR).
                    If it exists, ``-1``, ``-2``, ... is appended: never overwritten.
    map_size:       initial database map size in bytes (it grows when full).
    buffer_bytes:   most bytes held in memory before callers wait for the writer.
    flush_interval: most seconds between commits.
    durability:     "batch" (default) or "sync" (each call committed before it runs).
    result:         record return values (default True).
    strict:         raise TypeError for values that cannot be captured (for tests).
    label:          a text stored with every call of the run (e.g. the experiment's
                    name); $CALLMONITOR_LABEL by default, "" (none) to clear it.

    Capture policies for every function (docs/policies.md): max_calls, first,
    every, sample, max_bytes, exclude, keep, slower_than (as for intercept(),
    whose own options win), and for the database max_db_bytes (recording
    stops there, with one warning) and seed (of sample=; random by default,
    stored in the database). None leaves an option as it is; they apply from
    the next session (the first recorded call, or after close()).

    Called after the first recorded call, output and label apply to the next
    run (after ``close()``) and the others to writers opened later; a
    LateSettingsWarning says so, once per run.
    """
    from . import policy as _policy
    checked = _policy.check(**policy)  # before anything changes: a bad value changes nothing
    before = _Config(**{f.name: getattr(CONFIG, f.name) for f in fields(_Config)})
    try:
        _configure(output, map_size=map_size, buffer_bytes=buffer_bytes, flush_interval=flush_interval,
                   durability=durability, result=result, strict=strict, label=label, checked=checked)
    finally:
        _warn_if_late(before)


def _configure(output, *, map_size, buffer_bytes, flush_interval, durability, result, strict, label,
               checked) -> None:
    from . import policy as _policy
    if output is not None:
        CONFIG.output = os.fspath(output)
        _core._set_output_chosen(True)
        from .session import export_run  # children follow the new output
        export_run()
    if map_size is not None:
        if map_size < 1 << 16:
            raise ValueError("map_size must be at least 64 KiB")
        CONFIG.map_size = int(map_size)
    if buffer_bytes is not None:
        if buffer_bytes < 1 << 16:
            raise ValueError("buffer_bytes must be at least 64 KiB")
        CONFIG.buffer_bytes = int(buffer_bytes)
    if flush_interval is not None:
        if not 0 < flush_interval <= 60:
            raise ValueError("flush_interval must be in (0, 60] seconds")
        CONFIG.flush_interval = float(flush_interval)
    if durability is not None:
        if durability not in _DURABILITY:
            raise ValueError(f"durability must be one of {_DURABILITY}, got {durability!r}")
        CONFIG.durability = durability
    if result is not None:
        CONFIG.result = bool(result)
    if strict is not None:
        CONFIG.strict = bool(strict)
    if label is not None:
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        CONFIG.label = label
    for name, value in checked.items():
        (CONFIG.policy_session if name in _policy.SESSION_OPTIONS else CONFIG.policy)[name] = value


class Settings:
    """callmonitor 0.3's settings object (a process-wide singleton).

    ``enable_multi_threading(tid)`` names the writer of the thread that calls
    it: called in each worker of a thread pool, each declared tid records
    into its own writer directory ``tid-<tid>/`` of the run (0.3's
    ``-tid=<N>`` folders). Called in the main thread it names the process's
    writer, which every thread that declares nothing records into. It takes
    effect at the calling thread's next recorded call, before or after the
    first one (a writer opened then joins the running session's run
    directory)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def enable_multi_threading(self, tid, tident=None):
        """Record the calling thread into writer ``tid-<tid>/``
        (``tid-<tid>-<tident>/`` with 0.3.7's thread ident) from its next
        recorded call on; in the main thread, the whole process (every thread
        that declares no writer of its own)."""
        _declare(f"tid-{int(tid)}" + ("" if tident is None else f"-{int(tident)}"))

    def disable_multi_threading(self):
        """The calling thread records into the process's writer again (in the
        main thread: the process's writer is the automatic one again)."""
        _declare(None)

    disbale_multi_threading = disable_multi_threading  # 0.3's spelling

    @property
    def multi_threading(self):
        """True when the calling thread records into a declared writer."""
        return self.thread_id is not None

    multi_threading_enabled = multi_threading  # 0.3.7's name

    @property
    def thread_id(self):
        """The writer id the calling thread records into by declaration
        (its own, else the main thread's), or None."""
        from .. import _core
        return _core._declared_writer() or None


def _declare(writer_id: Optional[str]) -> None:
    """Declares the calling thread's writer (None: the process's); the main thread's is the process's."""
    import threading
    from .. import _core
    process = threading.current_thread() is threading.main_thread()
    if process:
        CONFIG.writer_id = writer_id
    _core._declare_writer(writer_id or "", process)
