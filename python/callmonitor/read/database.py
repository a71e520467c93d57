"""``load(path)``: a recorded run (or one writer of it), read back as Python objects."""
import datetime
import functools
import inspect
import os
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Union

from .. import _core
from .errors import NotADatabaseError, NotFoundError, UnknownFunctionError, UnknownWriterError

PathLike = Union[str, "os.PathLike[str]"]
FunctionRef = Union[str, Callable[..., Any]]   # a name, or the function itself

_PARAM_KINDS = {
    "POSITIONAL_ONLY": inspect.Parameter.POSITIONAL_ONLY,
    "POSITIONAL_OR_KEYWORD": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "VAR_POSITIONAL": inspect.Parameter.VAR_POSITIONAL,
    "KEYWORD_ONLY": inspect.Parameter.KEYWORD_ONLY,
    "VAR_KEYWORD": inspect.Parameter.VAR_KEYWORD,
}


def _writer_order(name):
    """Sort key of writer directories: the default writer, ranks, declared
    ids, then processes, numerically within each kind."""
    for rank, prefix in enumerate(("main", "rank-", "tid-", "pid-")):
        if name == prefix or (prefix.endswith("-") and name.startswith(prefix)):
            number = name[len(prefix):].split("-")[0] if prefix.endswith("-") else "0"
            return (rank, int(number) if number.isdigit() else 0, name)
    return (4, 0, name)


def _writer_dirs(path):
    """[(writer directory, run name)] under `path`: itself, or its subdirectories."""
    if not os.path.exists(path):
        raise NotFoundError(f"{path} does not exist: give the path of a callmonitor run "
                            f"directory (e.g. ./call-monitor) or of one writer inside it")
    if not os.path.isdir(path):
        raise NotADatabaseError(f"{path} is a file, not a callmonitor database directory")
    if os.path.exists(os.path.join(path, "data.mdb")):
        run = os.path.dirname(os.path.abspath(path))
        return [(path, os.path.basename(run) if _is_run_dir(run) else "")]
    names = sorted((d for d in os.listdir(path) if os.path.exists(os.path.join(path, d, "data.mdb"))),
                   key=_writer_order)
    if names:
        run = os.path.basename(os.path.abspath(path))
        return [(os.path.join(path, d), run) for d in names]
    if os.path.exists(os.path.join(path, "db.pkl")):
        raise NotADatabaseError(
            f"{path} was written by callmonitor 0.3 (it holds db.pkl), not by this version")
    raise NotADatabaseError(f"{path} is not a callmonitor database: it holds no data.mdb, "
                            f"nor do its subdirectories")


def _is_run_dir(path):
    return os.path.exists(os.path.join(path, ".callmonitor-run"))


@dataclass(frozen=True)
class ExceptionInfo:
    """The exception a recorded call raised."""
    type: str
    message: str

    def __str__(self):
        return f"{self.type}: {self.message}" if self.message else self.type


class FunctionInfo:
    """A recorded function: where it lives, its signature, how often it was called."""

    def __init__(self, raw, writer, allow_pickle):
        self._raw = raw
        self.id = raw["id"]       # in its writer's environment
        self.module = raw["module"]
        self.qualname = raw["qualname"]
        self.name = raw["name"]
        self.file = raw["file"]
        self.line = raw["line"]
        self.kind = raw["kind"]
        self.writer = writer.id     # the id of the writer that recorded it
        self.rank = writer.rank     # its MPI rank (-1: not under MPI)
        self.calls = raw["calls"]
        self._allow_pickle = allow_pickle
        self._signature = None

    @property
    def full_name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    def _default(self, p):
        try:
            return _core.decode_value(p["default"], self._allow_pickle)
        except Exception:
            return p["default_repr"]

    @property
    def signature(self) -> Optional[inspect.Signature]:
        """The recorded ``inspect.Signature`` (annotations as text), or None."""
        if self._signature is None and self._raw["signature_known"]:
            params = []
            for p in self._raw["parameters"]:
                kw = {}
                if p["has_default"]:
                    kw["default"] = self._default(p)
                if p["annotation"]:
                    kw["annotation"] = p["annotation"]
                params.append(inspect.Parameter(p["name"], _PARAM_KINDS[p["kind"]], **kw))
            ret = self._raw["return_annotation"] or inspect.Signature.empty
            self._signature = inspect.Signature(params, return_annotation=ret,
                                                __validate_parameters__=False)
        return self._signature

    @property
    def argspec(self) -> inspect.FullArgSpec:
        """The signature as ``inspect.FullArgSpec`` (as callmonitor 0.3 stored it)."""
        sig = self.signature
        if sig is None:
            return inspect.FullArgSpec([], None, None, None, [], None, {})
        args, kwonly, defaults, kwdefaults, annotations = [], [], [], {}, {}
        varargs = varkw = None
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                args.append(p.name)
                if p.default is not p.empty:
                    defaults.append(p.default)
            elif p.kind is p.VAR_POSITIONAL:
                varargs = p.name
            elif p.kind is p.KEYWORD_ONLY:
                kwonly.append(p.name)
                if p.default is not p.empty:
                    kwdefaults[p.name] = p.default
            else:
                varkw = p.name
            if p.annotation is not p.empty:
                annotations[p.name] = p.annotation
        if sig.return_annotation is not sig.empty:
            annotations["return"] = sig.return_annotation
        return inspect.FullArgSpec(args, varargs, varkw, tuple(defaults) or None, kwonly,
                                   kwdefaults or None, annotations)

    def signature_text(self) -> str:
        sig = self.signature
        return f"{self.qualname}{sig}" if sig is not None else f"{self.qualname}(...)"

    def __repr__(self):
        return f"<FunctionInfo {self.full_name}: {self.calls} calls>"


class Call:
    """One recorded call."""

    __slots__ = ("function", "invocation", "args", "kwargs", "result", "exception",
                 "started_ns", "duration_ns", "thread", "thread_name", "caller", "writer",
                 "rank", "pid", "run", "completed", "_started_unix_ns", "outcome")

    def __init__(self, function, raw, writer, thread, caller):
        self.function = function
        self.invocation = raw["invocation"]
        self.args = raw["args"]
        self.kwargs = raw["kwargs"]
        self.completed = raw["outcome"] != "pending"
        self.result = raw["result"]
        self.exception = (ExceptionInfo(raw["exception_type"], raw["exception_message"])
                          if raw["outcome"] == "raised" else None)
        self.started_ns = raw["start_ns"]
        self.duration_ns = raw["duration_ns"] if self.completed else None
        self.thread = thread.get("ident") if thread else None
        self.thread_name = thread.get("name") if thread else None
        self.caller = caller
        self.writer = writer.id      # provenance: writer id, MPI rank (-1: none), process, run
        self.rank = writer.rank
        self.pid = writer.pid
        self.run = writer.run
        self._started_unix_ns = writer.info["started_unix_ns"]
        # "returned", "raised", "pending", "result-skipped" (result not recorded)
        self.outcome = raw["outcome"]

    @property
    def started(self) -> datetime.datetime:
        """Wall-clock start of the call (datetime, UTC)."""
        ns = self._started_unix_ns + self.started_ns
        return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.timezone.utc)

    @property
    def duration(self) -> Optional[float]:
        """Seconds the call took (None if it had not returned)."""
        return None if self.duration_ns is None else self.duration_ns / 1e9

    @property
    def bound(self) -> Optional[inspect.BoundArguments]:
        """``inspect.BoundArguments`` of the call, or None without a signature."""
        sig = self.function.signature
        if sig is None:
            return None
        try:
            return sig.bind(*self.args, **self.kwargs)
        except TypeError:
            return None

    def __repr__(self):
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        text = f"{self.function.qualname}({', '.join(parts)})"
        if len(text) > 200:
            text = text[:197] + "..."
        if self.exception:
            out = f"raised {self.exception}"
        elif not self.completed:
            out = "did not return"
        else:
            out = f"-> {self.result!r}"[:80]
        return f"<Call #{self.invocation} {text} {out}>"


class _Writer:
    """One writer: a writer environment, or one source writer of a merged
    environment (then only its id ranges of functions, threads and callers)."""

    def __init__(self, reader, info, run, allow_pickle, source=None):
        self.reader = reader
        self.directory = reader.directory
        self.info = info
        self.writer_id = info["writer_id"] or os.path.basename(self.directory)
        self.id = self.writer_id       # qualified with the run when a database holds several
        self.rank = info["rank"]
        self.pid = info["pid"]
        self.host = info["host"]
        self.run = run
        self.allow_pickle = allow_pickle
        self._source = source
        self.files_dir = ""
        if source and source["handler_dir"]:
            self.files_dir = os.path.join(self.directory, source["handler_dir"])
        self.functions, self.threads, self.callers = [], {}, []

    @classmethod
    def open_all(cls, directory, run, allow_pickle):
        """The writers in one environment: itself, or a merge's sources."""
        reader = _core.WriterReader(directory)
        sources = reader.sources()
        if not sources:
            return [cls(reader, reader.info(), run, allow_pickle)]
        return [cls(reader, src["writer"], src["run"], allow_pickle, src) for src in sources]

    def _mine(self, kind, index):
        if self._source is None:
            return True
        base, count = self._source[kind]
        return base <= index < base + count

    def refresh(self):
        self.functions = [FunctionInfo(f, self, self.allow_pickle)
                          for f in self.reader.functions() if self._mine("functions", f["id"])]
        self.threads = {t["index"]: t for t in self.reader.threads()}
        self.callers = self.reader.callers()

    def stats(self):
        return dict(self._source["stats"]) if self._source else self.reader.stats()

    def sort_key(self):
        return (self.run or "", _writer_order(self.writer_id))


class Database:
    """A recorded run (all its writers: ranks, processes, declared ids), one
    writer of it, or a merge of runs, read back. Open it with :func:`load`."""

    def __init__(self, path, allow_pickle=False):
        self.path = os.fspath(path)
        self.allow_pickle = allow_pickle
        writers = [w for d, run in _writer_dirs(self.path)
                   for w in _Writer.open_all(d, run, allow_pickle)]
        writers.sort(key=_Writer.sort_key)
        if len({w.run for w in writers}) > 1:  # a merge of several runs
            for w in writers:
                w.id = f"{w.run}/{w.writer_id}" if w.run else w.writer_id
        for w in writers:
            w.refresh()
        self._writers = writers
        self._resolved = {}

    # -- writers -------------------------------------------------------------
    @property
    def writers(self) -> list[str]:
        """Writer ids, the default writer first (``main``, ``rank-0000``, ...)."""
        return [w.id for w in self._writers]

    @property
    def ranks(self) -> list[int]:
        """The MPI ranks that recorded into this database, ascending."""
        return sorted({w.rank for w in self._writers if w.rank >= 0})

    @property
    def runs(self) -> list[str]:
        """The run directories this database holds (several for a merge)."""
        return sorted({w.run for w in self._writers if w.run})

    def writer_info(self) -> list[dict[str, Any]]:
        """One dict per writer: id, run, rank, pid, host, calls."""
        return [{"id": w.id, "run": w.run, "rank": w.rank, "pid": w.pid, "host": w.host,
                 "calls": sum(f.calls for f in w.functions)} for w in self._writers]

    def _select(self, writer=None, rank=None, pid=None):
        if writer is None and rank is None and pid is None:
            return self._writers
        chosen = [w for w in self._writers
                  if (writer is None or writer in (w.id, w.writer_id))
                  and (rank is None or w.rank == rank) and (pid is None or w.pid == pid)]
        if not chosen:
            wanted = ", ".join(f"{k}={v!r}" for k, v in
                               (("writer", writer), ("rank", rank), ("pid", pid)) if v is not None)
            have = ", ".join(f"{w.id} (rank {w.rank}, pid {w.pid})" if w.rank >= 0 else
                             f"{w.id} (pid {w.pid})" for w in self._writers)
            raise UnknownWriterError(f"no writer with {wanted} in {self.path}; writers: {have}")
        return chosen

    # -- functions -----------------------------------------------------------
    @property
    def functions(self) -> list[FunctionInfo]:
        """Every recorded function (per writer), with live call counts."""
        out = []
        for w in self._writers:
            w.refresh()
            out.extend(w.functions)
        return out

    def _candidates(self, fn):
        if callable(fn) and not isinstance(fn, str):
            target = getattr(fn, "__callmonitor_target__", None) or inspect.unwrap(fn)
            partial = isinstance(target, functools.partial)
            while isinstance(target, functools.partial):
                target = target.func
            module = getattr(target, "__module__", "") or ""
            qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", "")
            return lambda f: (f.module == module and f.qualname == qualname
                              and (f.kind == "partial") == partial)
        if not isinstance(fn, str):
            raise TypeError(f"a function is named by a str or the function itself, not {fn!r}")
        return lambda f: fn in (f.full_name, f.qualname, f.name)

    def _resolve_all(self, fn, writer=None, rank=None, pid=None):
        """[(writer, FunctionInfo)] of `fn` in the chosen writers, in writer order
        (cached: db.get on a hot loop resolves once)."""
        key = (fn if isinstance(fn, str) else id(fn), writer, rank, pid)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        writers = self._select(writer, rank, pid)
        match = self._candidates(fn)
        for attempt in range(2):
            found = [(w, f) for w in writers for f in w.functions if match(f)]
            if found or attempt:
                break
            for w in writers:  # a live database may have new functions
                w.refresh()
        names = sorted({f.full_name for _, f in found})
        if not found:
            known = ", ".join(sorted({f.full_name for w in writers for f in w.functions}))
            raise UnknownFunctionError(
                f"no function {fn!r} in {self.path}" + (f"; recorded functions: {known}" if known
                                                         else "; nothing was recorded"))
        if len(names) > 1:
            raise UnknownFunctionError(
                f"{fn!r} is ambiguous in {self.path}: it matches {', '.join(names)}; "
                f"use the full name")
        self._resolved[key] = found
        return found

    def _resolve(self, fn, writer=None, rank=None, pid=None):
        """The (writer, FunctionInfo) a single call of `fn` is read from: the
        first writer (in :attr:`writers` order) that recorded it."""
        return self._resolve_all(fn, writer, rank, pid)[0]

    def _index(self, w, f, n):
        if n < 0:
            count = w.reader.last_invocation(f.id)
            m = count + 1 + n
            if m < 1:
                raise IndexError(self._range_text(w, f, count, n))
            return m
        if n == 0:
            raise IndexError(self._range_text(w, f, w.reader.last_invocation(f.id), n))
        return n

    def _range_text(self, w, f, count, n):
        where = f" in writer {w.id}" if len(self._writers) > 1 else ""
        if count == 0:
            return f"{f.full_name} has no recorded calls{where} (asked for call {n})"
        return (f"{f.full_name} has calls 1..{count}{where} (or -{count}..-1 from the end); "
                f"there is no call {n}")

    # -- calls ---------------------------------------------------------------
    def get(self, fn: FunctionRef, n: int, *, writer: Optional[str] = None, rank: Optional[int] = None,
            pid: Optional[int] = None) -> tuple[list[Any], dict[str, Any]]:
        """``(args, kwargs)`` of call `n` (from 1; negative from the end) of `fn`.

        In a database of several writers, `writer`, `rank` or `pid` picks
        the writer; without them, the first writer that recorded `fn`
        (``main``, then ranks in order, declared ids, processes)."""
        w, f = self._resolve(fn, writer, rank, pid)
        inv = self._index(w, f, n)
        try:
            return w.reader.inputs(f.id, inv, self.allow_pickle, w.files_dir)
        except IndexError:
            raise IndexError(self._range_text(w, f, w.reader.last_invocation(f.id), n)) from None

    def get_args(self, fn: FunctionRef, n: int, *, writer: Optional[str] = None, rank: Optional[int] = None,
                 pid: Optional[int] = None) -> types.SimpleNamespace:
        """Call `n`'s arguments as attributes, one per parameter, defaults filled in."""
        call = self.call(fn, n, writer=writer, rank=rank, pid=pid)
        bound = call.bound
        if bound is None:
            return types.SimpleNamespace(args=call.args, kwargs=call.kwargs)
        bound.apply_defaults()
        return types.SimpleNamespace(**bound.arguments)

    def call(self, fn: FunctionRef, n: int, *, writer: Optional[str] = None, rank: Optional[int] = None,
             pid: Optional[int] = None) -> "Call":
        """The whole record of call `n` of `fn` (a :class:`Call`); writer
        chosen as in :meth:`get`."""
        w, f = self._resolve(fn, writer, rank, pid)
        inv = self._index(w, f, n)
        return self._read_call(w, f, inv, n)

    def _read_call(self, w, f, inv, n=None):
        try:
            raw = w.reader.call(f.id, inv, self.allow_pickle, w.files_dir)
        except IndexError:
            raise IndexError(self._range_text(w, f, w.reader.last_invocation(f.id),
                                              inv if n is None else n)) from None
        thread = w.threads.get(raw["thread"])
        if thread is None or raw["caller"] >= len(w.callers):
            w.refresh()
            thread = w.threads.get(raw["thread"])
        caller = w.callers[raw["caller"]] if raw["caller"] < len(w.callers) else None
        return Call(f, raw, w, thread, caller)

    def calls(self, fn: FunctionRef, *, writer: Optional[str] = None, rank: Optional[int] = None,
              pid: Optional[int] = None) -> Iterator["Call"]:
        """Every call of `fn`, read lazily: writer after writer (in
        :attr:`writers` order), each in invocation order. Each :class:`Call`
        says where it was recorded (``.writer``, ``.rank``, ``.pid``, ``.run``)."""
        for w, f in self._resolve_all(fn, writer, rank, pid):
            for inv in w.reader.invocations(f.id):
                yield self._read_call(w, f, inv)

    def __len__(self) -> int:
        return sum(f.calls for f in self.functions)

    def _summed(self, counters):
        total = {}
        for w in self._writers:
            for k, v in counters(w).items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def stats(self) -> dict[str, int]:
        """Capture counters (opaque, pickled, capture errors, dropped calls), all writers."""
        return self._summed(lambda w: w.stats())

    @property
    def sizes(self):
        """Bytes and entries on disk, all writer environments."""
        readers = {id(w.reader): w.reader for w in self._writers}
        total = {}
        for r in readers.values():
            for k, v in r.sizes().items():
                total[k] = total.get(k, 0) + v
        return total

    def api(self, functions=(), **options):
        """The API the functions were called with (:class:`callmonitor.analyse.api.ApiModel`),
        counted in C++ over every call; `functions`: glob patterns of names (none: all);
        `options`: those of :func:`callmonitor.analyse.api.derive` (label, sample_items, max_depth)."""
        from ..analyse.api import derive
        return derive(self, functions, **options)

    # -- lifecycle -----------------------------------------------------------
    def close(self) -> None:
        self._writers = []
        self._resolved.clear()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self):
        functions = self.functions
        size = self.sizes.get("file_bytes", 0)
        ranks = self.ranks
        rank_text = ""
        if ranks:
            rank_text = f" (ranks {ranks[0]}-{ranks[-1]})" if len(ranks) > 1 else f" (rank {ranks[0]})"
        lines = [f"<callmonitor database {self.path}: {len({f.full_name for f in functions})} "
                 f"functions, {sum(f.calls for f in functions)} calls, "
                 f"{len(self._writers)} writer(s){rank_text}, {_human(size)}>", "{"]
        by_name = {}
        for f in functions:
            by_name.setdefault(f.full_name, []).append(f)
        for group in by_name.values():
            f = group[0]
            spec = f.argspec
            lines += [f"    {f.qualname}: {{",
                      f"        module: {f.module}",
                      f"        calls: {sum(g.calls for g in group)}",
                      f"        args: {spec.args}",
                      f"        defaults: {spec.defaults}"]
            if len(self._writers) > 1:
                lines.append("        per writer: " + ", ".join(f"{g.writer}: {g.calls}" for g in group))
            lines.append("    }")
        lines.append("}")
        if len(self._writers) > 1:
            lines.append("writers:")
            for w in self.writer_info():
                rank = f"rank {w['rank']}, " if w["rank"] >= 0 else ""
                lines.append(f"    {w['id']}: {rank}pid {w['pid']} on {w['host']}, {w['calls']} calls")
        return "\n".join(lines)


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def load(path: PathLike, allow_pickle: bool = False) -> Database:
    """Open a recorded database read-only.

    path: a run directory (``./call-monitor``) or one writer directory in it.
    allow_pickle: restore values that were stored as pickles. Off by default:
        unpickling data from an untrusted database can run arbitrary code.
        Without it such values come back as :class:`callmonitor.Unrestorable`.
    A folder written by callmonitor 0.3 (db.pkl) is read as a LegacyDatabase.
    """
    from . import legacy  # callmonitor 0.3 databases: read/legacy.py
    if legacy.is_legacy(path):
        return legacy.LegacyDatabase(path, allow_pickle=allow_pickle)
    return Database(path, allow_pickle=allow_pickle)
