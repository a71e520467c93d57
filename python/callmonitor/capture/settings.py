"""Recording settings: ``configure(...)`` and callmonitor 0.3's ``Settings``."""
import os
from dataclasses import dataclass, field
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
    """
    from . import policy as _policy
    checked = _policy.check(**policy)  # before anything changes: a bad value changes nothing
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
    """callmonitor 0.3's settings object (a process-wide singleton)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def enable_multi_threading(self, tid, tident=None):
        """Record this process into its own writer directory ``tid-<tid>/``
        (``tid-<tid>-<tident>/`` with 0.3.7's thread ident). Call it before
        the first recorded call (or after ``close()``)."""
        CONFIG.writer_id = f"tid-{int(tid)}" + ("" if tident is None else f"-{int(tident)}")

    def disable_multi_threading(self):
        CONFIG.writer_id = None

    disbale_multi_threading = disable_multi_threading  # 0.3's spelling

    @property
    def multi_threading(self):
        return CONFIG.writer_id is not None

    multi_threading_enabled = multi_threading  # 0.3.7's name

    @property
    def thread_id(self):
        return CONFIG.writer_id
