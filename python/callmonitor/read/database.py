"""``load(path)``: a recorded run (or one writer of it, or a folder of runs and
merges), read back as Python objects.

Which writers a path holds, their order, merges and their sources, duplicates
and name resolution are the core's run reader (``include/callmonitor/run.h``,
bound as ``_core.RunReader``); this module turns its records into Python."""
import datetime
import functools
import inspect
import operator
import os
import types
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .. import _core
from .._module_names import recorded_module
from .._parameter_kinds import TO_INSPECT
from . import objects
from .errors import (AmbiguousFunctionError, AmbiguousWriterError, CallNotRecordedError, DamagedWriterWarning,
                     DatabaseClosedError, UnknownFunctionError, UnknownWriterError)
from .policy import PolicyRecord, why_not_recorded
from .inner import InnerCalls, InnerProfile, InnerSite, build_profile, decode_inner_calls, inner_sites


PathLike = Union[str, "os.PathLike[str]"]
FunctionRef = Union[str, Callable[..., Any]]   # a name, or the function itself

def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class ExceptionInfo:
    """The exception a recorded call raised: its type name, message and
    ``args`` (decoded; None when the record holds none, e.g. format v1)."""
    type: str
    message: str
    args: Optional[tuple] = None

    def __str__(self):
        return f"{self.type}: {self.message}" if self.message else self.type


class FunctionInfo:
    """A recorded function: where it lives, its signature, how often it was called."""

    def __init__(self, record, writer, allow_pickle, calls):
        self._record = record          # _core.FunctionRecord
        self.id = record.id            # in its writer's environment
        self.module = record.module
        self.qualname = record.qualname
        self.name = record.name
        self.file = record.file
        self.line = record.line
        self.kind = record.kind
        self.writer = writer.id        # the id of the writer that recorded it
        self.rank = writer.rank        # its MPI rank (-1: not under MPI)
        self.calls = calls             # the last recorded invocation number
        policy = getattr(writer, "policy", None)  # a 0.3 database's writer has no policy record
        counts = policy.functions.get(record.id) if policy else None
        #: calls made while recording / recorded / dropped per capture policy
        #: ({"every": 80}); without a policy record (older databases): calls, calls, {}
        self.seen = counts.seen if counts else calls
        self.kept = counts.kept if counts else calls
        self.dropped = dict(counts.dropped) if counts else {}
        #: the capture policy in force ("every=5, max_bytes=1000"; "" for none)
        self.policy = counts.policy_text if counts else ""
        # The name that finds this function alone in its database: full_name,
        # or with its definition site ("mod.f@30", "mod.<lambda>@12") when
        # other functions share the name (set by Database.functions).
        self.unique_name = self.full_name
        self._allow_pickle = allow_pickle
        self._allow_import = getattr(writer, "allow_import", ())
        self._signature = None

    @property
    def full_name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    @property
    def inner_sites(self) -> List[InnerSite]:
        """Its call sites when recorded with ``@intercept(inner=True)`` (else empty)."""
        return inner_sites(self._record)

    def _default(self, p):
        try:
            return _core.decode_value(p.default, self._allow_pickle, self._allow_import)
        except Exception:
            return p.default_repr

    @property
    def signature(self) -> Optional[inspect.Signature]:
        """The recorded ``inspect.Signature`` (annotations as text), or None."""
        if self._signature is None and self._record.signature_known:
            params = []
            for p in self._record.parameters:
                kw = {}
                if p.has_default:
                    kw["default"] = self._default(p)
                if p.annotation:
                    kw["annotation"] = p.annotation
                params.append(inspect.Parameter(p.name, TO_INSPECT[p.kind], **kw))
            ret = self._record.return_annotation or inspect.Signature.empty
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

    def parameters_text(self) -> str:
        """Every parameter with its kind: ``x, y=2, *args, z=3 (keyword-only), **kwargs``."""
        sig = self.signature
        if sig is None:
            return "(unknown: the signature could not be recorded)"
        out = []
        for p in sig.parameters.values():
            default = "" if p.default is p.empty else f"={p.default!r}"
            if p.kind is p.VAR_POSITIONAL:
                out.append(f"*{p.name}")
            elif p.kind is p.VAR_KEYWORD:
                out.append(f"**{p.name}")
            elif p.kind is p.KEYWORD_ONLY:
                out.append(f"{p.name}{default} (keyword-only)")
            elif p.kind is p.POSITIONAL_ONLY:
                out.append(f"{p.name}{default} (positional-only)")
            else:
                out.append(f"{p.name}{default}")
        return ", ".join(out) if out else "(none)"

    def __repr__(self):
        return f"<FunctionInfo {self.unique_name}: {_plural(self.calls, 'call')}>"


# Call.outcome: how the call ended, by name.
_OUTCOME_NAMES = {_core.CallOutcome.PENDING: "pending", _core.CallOutcome.RETURNED: "returned",
                  _core.CallOutcome.RAISED: "raised",
                  _core.CallOutcome.RESULT_NOT_RECORDED: "result-skipped"}


class Call:
    """One recorded call."""

    __slots__ = ("function", "invocation", "args", "kwargs", "result", "exception",
                 "started_ns", "duration_ns", "thread", "thread_name", "caller", "writer",
                 "rank", "pid", "run", "completed", "result_recorded", "outcome", "site", "label",
                 "parent", "traceback", "yields", "yielded", "closed", "_started_unix_ns", "_inner_calls")

    def __init__(self, function, raw, writer, thread, caller):
        outcome = raw.outcome
        #: a generator closed (or garbage-collected) before its end: outcome "closed"
        self.closed = bool(getattr(raw, "closed", None))   # raw: a RecordedCall, or a legacy one
        self.outcome = "closed" if self.closed else _OUTCOME_NAMES[outcome]
        self.function = function
        self.invocation = raw.invocation
        self.args = raw.args
        self.kwargs = raw.kwargs
        self.completed = outcome != _core.CallOutcome.PENDING
        #: True when the call returned and its result was recorded (False for a
        #: result not recorded -- ``intercept(result=False)`` --, a raise, a pending call)
        self.result_recorded = outcome == _core.CallOutcome.RETURNED
        self.result = raw.result
        self.exception = (ExceptionInfo(raw.exception_type, raw.exception_message, raw.exception_args)
                          if outcome == _core.CallOutcome.RAISED else None)
        #: the calling code location (``.file .line .function``), None when not recorded
        self.site = writer.site(raw.site)
        #: the label of the call (tracing, pytest), None when it has none
        self.label = writer.label(raw.label)
        #: the call this one ran inside (``ParentCall(function, invocation)``), None when not recorded
        self.parent = writer.parent(raw.parent)
        #: the formatted traceback of a raised exception, None when not recorded
        self.traceback = raw.traceback or None
        #: generators and async generators: how many items they yielded (None for other calls)
        self.yields = getattr(raw, "yields", None)
        #: the items yielded, in order, when recorded (``@intercept(yields=True)``); else None
        self.yielded = getattr(raw, "yielded", None)
        self.started_ns = raw.start_ns
        self.duration_ns = raw.duration_ns if self.completed else None
        self.thread = thread.ident if thread else None
        self.thread_name = thread.name if thread else None
        self.caller = caller
        self.writer = writer.id      # provenance: writer id, MPI rank (-1: none), process, run
        self.rank = writer.rank
        self.pid = writer.pid
        self.run = writer.run
        self._started_unix_ns = writer.info.started_unix_ns
        self._inner_calls = raw.inner_calls

    @property
    def inner(self) -> Optional[InnerCalls]:
        """The calls made inside this one (``@intercept(inner=True)``): a
        sequence of RecordedInnerCall (callee, name, line, start, duration,
        raised) that prints as a table; None when not recorded."""
        return decode_inner_calls(self._inner_calls, self.function.inner_sites)

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
        elif self.closed:
            out = f"closed after {_plural(self.yields or 0, 'item')}"
        elif not self.result_recorded:
            out = "returned (result not recorded)"
        else:
            out = f"-> {self.result!r}"[:80]
        if self.yields is not None and not self.closed:
            out += f" ({_plural(self.yields, 'item')} yielded)"
        return f"<Call #{self.invocation} {text} {out}>"


@dataclass(frozen=True)
class ParentCall:
    """The call a recorded call ran inside: its function (None when that function
    is not in the database) and invocation number, in the same writer."""
    function: Optional["FunctionInfo"]
    invocation: int


class _Writer:
    """One writer of the run (the core's RunWriter) with its functions,
    threads and callers, re-read when a live writer has added some."""

    def __init__(self, index, raw, reader, allow_pickle):
        self.index = index             # in the RunReader
        self.raw = raw
        self.info = raw.info           # _core.WriterRecord
        self.id = raw.id               # "run/writer" when the database holds several runs
        self.writer_id = raw.info.writer_id or os.path.basename(raw.directory)
        self.rank = raw.info.rank
        self.pid = raw.info.pid
        self.host = raw.info.host
        self.run = raw.run
        self.directory = raw.directory  # its environment (a merge's, for a merged source)
        self._reader = reader
        self._allow_pickle = allow_pickle
        self.allow_import = reader.allow_import
        self.functions, self.threads, self.callers = [], {}, []
        self.policy = None             # PolicyRecord: meta["policy"], None when absent
        self._sites, self._labels = None, None
        # copy=False: views of the map, except in the environment this process's
        # own Writers record into (views there would keep it from growing its
        # map while the program records on): read-only copies.
        here = os.path.realpath(raw.directory)
        mine = not raw.merged and any(os.path.realpath(own) == here
                                      for own in _core.live_writer_directories())
        self.views = _core.Arrays.READ_ONLY_COPIES if mine else _core.Arrays.MAP_VIEWS

    def site(self, site_id):
        """The SiteRecord of a site id (None for none; read again when new)."""
        if site_id is None:
            return None
        if self._sites is None or site_id not in self._sites:
            self._sites = self._reader.sites(self.index)
        return self._sites.get(site_id)

    def label(self, label_id):
        if label_id is None:
            return None
        if self._labels is None or label_id >= len(self._labels):
            self._labels = self._reader.labels(self.index)
        return self._labels[label_id] if label_id < len(self._labels) else None

    def parent(self, key):
        if key is None:
            return None
        fid, invocation = key
        function = next((f for f in self.functions if f.id == fid), None)
        if function is None:
            self.refresh()
            function = next((f for f in self.functions if f.id == fid), None)
        return ParentCall(function, invocation)

    def refresh(self):
        r, i = self._reader, self.index
        self.policy = PolicyRecord.parse(r.policy(i), r.policy_function_base(i))
        self.functions = [FunctionInfo(f, self, self._allow_pickle, r.last_invocation(i, f.id))
                          for f in r.functions(i)]
        self.threads = r.threads(i)
        self.callers = r.callers(i)


def _query(fn):
    """The _core.FunctionQuery of a function object (the interceptor, or what it wraps)."""
    target = getattr(fn, "__callmonitor_target__", None) or inspect.unwrap(fn)
    partial = isinstance(target, functools.partial)
    while isinstance(target, functools.partial):
        target = target.func
    module = getattr(target, "__module__", "") or ""
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", "")
    code = getattr(inspect.unwrap(target), "__code__", None)
    file, line = (code.co_filename, code.co_firstlineno) if code is not None else ("", 0)
    module = recorded_module(module) if isinstance(module, str) else ""
    return _core.FunctionQuery(module, qualname, file, line, partial)


def _wanted_labels(label) -> Optional[FrozenSet[str]]:
    """db.calls's `label` as a set of label texts (None: no filter)."""
    if label is None:
        return None
    if isinstance(label, str):
        return frozenset([label])
    try:
        wanted = frozenset(label)
    except TypeError:
        wanted = None
    if wanted is None or not all(isinstance(t, str) for t in wanted):
        raise TypeError(f"label must be a str or a collection of str (the labels to keep), not {label!r}")
    return wanted


def _invocation_number(n):
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n must be an int (the call number: 1 is the first call, -1 the last), "
                        f"not {type(n).__name__} {n!r}")
    return operator.index(n)


class Database:
    """A recorded run (all its writers: ranks, processes, declared ids), one
    writer of it, a merge, or a folder of runs and merges, read back. Open it
    with :func:`load`."""

    def __init__(self, path, allow_pickle=False, strict=False, allow_import=None):
        self.path = os.fspath(path)
        self.allow_pickle = allow_pickle
        self.allow_import = objects.import_rule(allow_import)
        self._reader = _core.RunReader(self.path, strict)
        self._reader.allow_import = self.allow_import
        for damaged in self._reader.damaged:
            warnings.warn(f"callmonitor: {damaged.directory} cannot be read and is left out "
                          f"({damaged.error}); load(..., strict=True) raises instead",
                          DamagedWriterWarning, stacklevel=3)
        self._writers = [_Writer(i, raw, self._reader, allow_pickle)
                         for i, raw in enumerate(self._reader.writers)]
        self._start_rank = {w: k for k, w in enumerate(self._reader.start_order)}
        for w in self._writers:
            w.refresh()
        self._resolved = {}   # (fn, writer, rank, pid) -> [(writer, FunctionInfo)]
        self._single = {}     # (fn, writer, rank, pid) -> (writer, FunctionInfo) of one writer

    def _open(self):
        if self._reader is None:
            raise DatabaseClosedError(f"the database {self.path} is closed; open it again with "
                                      f"callmonitor.load({self.path!r})")
        return self._reader

    # -- writers -------------------------------------------------------------
    @property
    def writers(self) -> List[str]:
        """Writer ids: ``main``, ranks, declared ids, processes (``run/writer``
        when the database holds several runs)."""
        self._open()
        return [w.id for w in self._writers]

    @property
    def ranks(self) -> List[int]:
        """The MPI ranks that recorded into this database, ascending."""
        self._open()
        return sorted({w.rank for w in self._writers if w.rank >= 0})

    @property
    def runs(self) -> List[str]:
        """The run directories this database holds (several for a merge or a folder)."""
        return sorted(self._open().runs)

    @property
    def damaged(self) -> List[Tuple[str, str]]:
        """(directory, error) of each environment that could not be opened."""
        return [(d.directory, d.error) for d in self._open().damaged]

    def writer_info(self) -> List[dict]:
        """One dict per writer: id, run, rank, pid, host, calls."""
        self._open()
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
            raise UnknownWriterError(f"no writer with {wanted} in {self.path}; writers: "
                                     f"{self._writers_text(self._writers)}")
        return chosen

    @staticmethod
    def _writers_text(writers):
        return ", ".join(f"{w.id} (rank {w.rank}, pid {w.pid})" if w.rank >= 0 else
                         f"{w.id} (pid {w.pid})" for w in writers)

    # -- functions -----------------------------------------------------------
    @property
    def functions(self) -> List[FunctionInfo]:
        """Every recorded function (per writer), with live call counts."""
        self._open()
        out: List[FunctionInfo] = []
        records: List[Tuple[int, Any]] = []
        for w in self._writers:
            w.refresh()
            out.extend(w.functions)
            records.extend((w.index, f._record) for f in w.functions)
        for f, name in zip(out, _core.unique_names(records)):
            f.unique_name = name
        return out

    def _resolve_all(self, fn, writer=None, rank=None, pid=None):
        """[(writer, FunctionInfo)] of `fn` in the chosen writers, in start-time
        order (cached: db.get on a hot loop resolves once)."""
        reader = self._open()
        try:
            key = (fn, writer, rank, pid)
            hit = self._resolved.get(key)
        except TypeError:  # an unhashable callable
            key, hit = None, None
        if hit is not None:
            return hit
        writers = self._select(writer, rank, pid)
        if callable(fn) and not isinstance(fn, str):
            asked = _query(fn)
        elif isinstance(fn, str):
            asked = fn
        else:
            raise TypeError(f"a function is named by a str or the function itself, not {fn!r}")
        indices = [w.index for w in writers] if len(writers) < len(self._writers) else []
        try:
            found = reader.resolve(asked, indices)
        except _core.AmbiguousFunctionError as e:
            raise AmbiguousFunctionError(str(e)) from None
        except _core.UnknownFunctionError as e:
            raise UnknownFunctionError(str(e)) from None
        by_index = {w.index: w for w in writers}
        out = []
        for index, record in found:
            w = by_index[index]
            info = next((f for f in w.functions if f.id == record.id), None)
            if info is None:  # new since the last refresh (a live writer)
                w.refresh()
                info = next(f for f in w.functions if f.id == record.id)
            out.append((w, info))
        out.sort(key=lambda pair: self._start_rank[pair[0].index])
        if key is not None:
            self._resolved[key] = out
        return out

    def _resolve(self, fn, writer=None, rank=None, pid=None):
        """The (writer, FunctionInfo) a single call of `fn` is read from; an
        error when several writers recorded it and none was chosen."""
        found = self._resolve_all(fn, writer, rank, pid)
        if len(found) > 1:
            f = found[0][1]
            each = ", ".join(f"{w.id}: {_plural(self._reader.last_invocation(w.index, g.id), 'call')}"
                             for w, g in found)
            example = found[0][0]
            how = f"writer={example.id!r}"
            if example.rank >= 0:
                how += f", rank={example.rank}"
            how += f" or pid={example.pid}"
            raise AmbiguousWriterError(
                f"{f.full_name} was recorded by {len(found)} writers ({each}); invocation numbers "
                f"are per writer: choose one with {how} (db.calls({fn if isinstance(fn, str) else f.qualname!r}) "
                f"walks them all)")
        try:
            self._single[fn, writer, rank, pid] = found[0]
        except TypeError:  # an unhashable callable
            pass
        return found[0]

    def _index(self, w, f, n):
        n = _invocation_number(n)
        if n > 0:
            return n
        count = self._reader.last_invocation(w.index, f.id)
        m = count + 1 + n
        if n == 0 or m < 1:
            raise IndexError(self._range_text(w, f, count, n))
        return m

    def _missing(self, w, f, inv, n):
        """The error for call `inv` (asked for as `n`) that is not in the database:
        CallNotRecordedError when a capture policy dropped it, else IndexError."""
        w.refresh()  # a live writer's counts move on
        f = next((g for g in w.functions if g.id == f.id), f)
        count = self._reader.last_invocation(w.index, f.id)
        why = why_not_recorded(w.policy, f.id, f.full_name, inv, count)
        if why is None:
            return IndexError(self._range_text(w, f, count, n))
        return CallNotRecordedError(
            f"call {inv} of {f.full_name} was not recorded: {why} ({f.seen} calls made, {f.kept} recorded"
            f"{'; ' + f.policy if f.policy else ''}); db.calls({f.qualname!r}) lists the recorded ones",
            function=f.full_name, invocation=inv)

    def _range_text(self, w, f, count, n):
        where = f" in writer {w.id}" if len(self._writers) > 1 else ""
        if count == 0:
            return f"{f.full_name} has no recorded calls{where} (asked for call {n})"
        return (f"{f.full_name} has calls 1..{count}{where} (or -{count}..-1 from the end); "
                f"there is no call {n}")

    # -- calls ---------------------------------------------------------------
    def get(self, fn: FunctionRef, n: int, *, writer: Optional[str] = None, rank: Optional[int] = None,
            pid: Optional[int] = None, copy: bool = True) -> Tuple[List[Any], dict]:
        """``(args, kwargs)`` of call `n` (from 1; negative from the end) of `fn`.

        When several writers recorded `fn`, choose one with `writer`, `rank`
        or `pid` (invocation numbers are per writer).

        copy=False: arrays stored apart come back as read-only views of the
        database's memory map, without a copy (see docs/python-api.md for
        how long they stay valid)."""
        # The hot path: one dict lookup, one native call (see bench/run.py).
        try:
            w, f = self._single[fn, writer, rank, pid]
        except (KeyError, TypeError):
            w, f = self._resolve(fn, writer, rank, pid)
        inv = n if n.__class__ is int and n > 0 else self._index(w, f, n)
        try:
            if copy:
                return self._reader.inputs(w.index, f.id, inv, self.allow_pickle)
            return self._reader.inputs(w.index, f.id, inv, self.allow_pickle, w.views)
        except IndexError:
            raise self._missing(w, f, inv, n) from None

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
             pid: Optional[int] = None, copy: bool = True, label: Union[None, str, Iterable[str]] = None) -> Call:
        """The whole record of call `n` of `fn` (a :class:`Call`); writer
        chosen and `copy` as in :meth:`get`.

        label: `n` counts only the calls carrying this label (or one of these
        labels), over every chosen writer in start order: ``label=L, n=1`` is
        the first call made under L."""
        if label is not None:
            return self._labelled_call(fn, n, label, writer, rank, pid, copy)
        w, f = self._resolve(fn, writer, rank, pid)
        return self._read_call(w, f, self._index(w, f, n), n, copy)

    def _read_call(self, w, f, inv, n=None, copy=True):
        try:
            arrays = _core.Arrays.COPIES if copy else w.views
            raw = self._reader.call(w.index, f.id, inv, self.allow_pickle, arrays)
        except IndexError:
            raise self._missing(w, f, inv, inv if n is None else n) from None
        thread = w.threads.get(raw.thread)
        if thread is None or raw.caller >= len(w.callers):
            w.refresh()
            thread = w.threads.get(raw.thread)
        caller = w.callers[raw.caller] if raw.caller < len(w.callers) else None
        return Call(f, raw, w, thread, caller)

    def calls(self, fn: FunctionRef, *, writer: Optional[str] = None, rank: Optional[int] = None,
              pid: Optional[int] = None, copy: bool = True,
              label: Union[None, str, Iterable[str]] = None) -> Iterator[Call]:
        """Every call of `fn`, read lazily: writer after writer in the order
        they started, each in invocation order. Each :class:`Call` says where
        it was recorded (``.writer``, ``.rank``, ``.pid``, ``.run``); `copy`
        as in :meth:`get`.

        label: only the calls carrying this label (or one of these labels),
        e.g. a pytest plugin's ``"tests/test_x.py::test_a|call"``; the other
        calls are skipped without decoding their values."""
        wanted = _wanted_labels(label)
        reader = self._open()
        for w, f in self._resolve_all(fn, writer, rank, pid):
            invocations = (reader.invocations(w.index, f.id) if wanted is None
                           else self._labelled(w, f, wanted))
            for inv in invocations:
                yield self._read_call(w, f, inv, copy=copy)

    def find(self, fn: FunctionRef, *, writer: Optional[str] = None, rank: Optional[int] = None,
             pid: Optional[int] = None) -> List[FunctionInfo]:
        """The recorded functions `fn` names (a name as :meth:`get` takes it,
        ``NAME@LINE`` included, or the function object): one per writer that
        recorded it, in the order the writers started. Raises as :meth:`get`
        does for an unknown or ambiguous name."""
        return [f for _, f in self._resolve_all(fn, writer, rank, pid)]

    def _labelled(self, w, f, wanted):
        """Invocations of `f` in `w` whose label is in `wanted` (no value decoded)."""
        return [inv for inv, label_id in self._open().call_labels(w.index, f.id)
                if label_id is not None and w.label(label_id) in wanted]

    def _labelled_call(self, fn, n, label, writer, rank, pid, copy):
        """db.call(fn, n, label=...): call n among those carrying the label(s),
        counted over the chosen writers in start order."""
        wanted = _wanted_labels(label)
        n = _invocation_number(n)
        resolved = self._resolve_all(fn, writer, rank, pid)
        found = [(w, f, inv) for w, f in resolved for inv in self._labelled(w, f, wanted)]
        if n == 0 or not -len(found) <= n <= len(found):
            name = resolved[0][1].full_name
            which = ", ".join(sorted(wanted))
            if not found:
                raise IndexError(f"{name} has no recorded calls labelled {which} (db.labels({name!r}) "
                                 f"lists its labels)")
            raise IndexError(f"{name} has {len(found)} call(s) labelled {which} (1..{len(found)}, or "
                             f"-{len(found)}..-1 from the end); there is no call {n}")
        w, f, inv = found[n - 1 if n > 0 else n]
        return self._read_call(w, f, inv, copy=copy)

    def labels(self, fn: Optional[FunctionRef] = None) -> Dict[Optional[str], int]:
        """{label: number of calls} over the chosen function (None: every
        function), all writers; calls without a label count under None.
        Reads no values."""
        reader = self._open()
        if fn is None:
            for w in self._writers:
                w.refresh()
            pairs = [(w, f) for w in self._writers for f in w.functions]
        else:
            pairs = self._resolve_all(fn)
        counts: Dict[Optional[str], int] = {}
        for w, f in pairs:
            for _, label_id in reader.call_labels(w.index, f.id):
                text = w.label(label_id)
                counts[text] = counts.get(text, 0) + 1
        return counts

    def __len__(self):
        return sum(f.calls for f in self.functions)

    @property
    def stats(self) -> dict:
        """Capture counters (opaque, pickled, capture errors, dropped calls), all writers."""
        reader = self._open()
        total: dict = {}
        for w in self._writers:
            for k, v in reader.stats(w.index).as_dict().items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def sizes(self) -> dict:
        """Bytes and entries on disk, all environments."""
        return self._open().sizes().as_dict()

    def children(self, call: "Call") -> List["Call"]:
        """The calls recorded inside `call` with their arguments
        (``@intercept(inner=True, inner_args=True)``; also any intercepted
        function it called then), in the order they started."""
        w = next((w for w in self._writers if w.id == call.writer and w.run == call.run), None)
        if w is None:
            raise UnknownWriterError(f"{call!r} is not from this database")
        out = []
        for fid, inv in self._open().children(w.index, call.function.id, call.invocation):
            info = next((f for f in w.functions if f.id == fid), None)
            if info is None:
                w.refresh()
                info = next(f for f in w.functions if f.id == fid)
            out.append(self._read_call(w, info, inv))
        out.sort(key=lambda c: c.started_ns)
        return out

    def profile(self, fn: FunctionRef, *, writer: Optional[str] = None, rank: Optional[int] = None,
                pid: Optional[int] = None) -> InnerProfile:
        """Per call site, the inner calls of `fn` (``@intercept(inner=True)``)
        over every recorded call in the chosen writers: count, total, mean,
        p50, p95, max; aggregated in C++ over the record stream."""
        found = self._resolve_all(fn, writer, rank, pid)
        first = found[0][1]
        rows, counts = self._open().inner_profile([(w.index, f.id) for w, f in found])
        return build_profile(first.full_name, first.inner_sites, rows, counts)

    # -- analyse (thin: the work is in callmonitor.analyse) ----------------------
    def api(self, functions=(), **options):
        """The API the functions were called with (:class:`callmonitor.analyse.api.ApiModel`),
        counted in C++ over every call; `functions`: glob patterns of names (none: all);
        `options`: those of :func:`callmonitor.analyse.api.derive` (label, sample_items, max_depth)."""
        from ..analyse.api import derive
        return derive(self, functions, **options)

    def replay(self, fn, n=None, func=None, **options):
        """Replay call `n` of `fn` (an int -> one ``ReplayResult``; a list of
        numbers / ``slice(a, b)`` ranges or None for every call -> a list) and
        compare with the recording. func: another implementation (callable or
        "module:attr"). Options: check, rtol, atol, loose_dtype, path, isolate,
        timeout, writer, rank, pid. See docs/replay.md."""
        from ..analyse.replay import replay
        return replay(self, fn, n, func, **options)

    def export(self, fn, n, to, *, npz=False, force=False, writer=None, rank=None, pid=None):
        """Write call `n` of `fn` into the directory `to` (.npy, JSON, pickle and
        manifest.json; npz=True: one call.npz); returns the manifest."""
        from ..analyse.export import export_call
        return export_call(self, fn, n, to, npz=npz, force=force, writer=writer, rank=rank,
                           pid=pid)

    # -- lifecycle -----------------------------------------------------------
    def close(self):
        """Releases the environments; using the database afterwards raises
        :class:`DatabaseClosedError`."""
        self._reader = None
        self._writers = []
        self._resolved.clear()
        self._single.clear()

    @property
    def closed(self) -> bool:
        return self._reader is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self._reader is None:
            return f"<callmonitor database {self.path} (closed)>"
        functions = self.functions
        size = self.sizes.get("file_bytes", 0)
        ranks = self.ranks
        rank_text = ""
        if ranks:
            rank_text = f" (ranks {ranks[0]}-{ranks[-1]})" if len(ranks) > 1 else f" (rank {ranks[0]})"
        lines = [f"<callmonitor database {self.path}: "
                 f"{_plural(len({f.unique_name for f in functions}), 'function')}, "
                 f"{_plural(sum(f.kept for f in functions), 'call')}, "
                 f"{_plural(len(self._writers), 'writer')}{rank_text}, {_human(size)}>", "{"]
        by_name = {}
        for f in functions:
            by_name.setdefault(f.unique_name, []).append(f)
        for group in by_name.values():
            f = group[0]
            spec = f.argspec
            site = f.unique_name[len(f.full_name):]   # "@30" when the name has several definitions
            lines += [f"    {f.qualname}{site}: {{",
                      f"        module: {f.module}",
                      f"        calls: {_calls_text(group)}",
                      f"        parameters: {f.parameters_text()}",
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
                lines.append(f"    {w['id']}: {rank}pid {w['pid']} on {w['host']}, "
                             f"{_plural(w['calls'], 'call')}")
        return "\n".join(lines)


def _calls_text(group):
    """ "12 calls", or with a capture policy "20 calls recorded of 100 (every=5)"."""
    kept, seen = sum(g.kept for g in group), sum(g.seen for g in group)
    last = sum(g.calls for g in group)
    policy = group[0].policy
    if seen == kept and not policy:
        return _plural(last, "call")
    return f"{kept} {'call' if kept == 1 else 'calls'} recorded of {seen}" + (f" ({policy})" if policy else "")


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def load(path: Optional[PathLike] = None, allow_pickle: bool = False, strict: bool = False,
         allow_import: Optional[Sequence[str]] = None) -> Database:
    """Open a recorded database read-only.

    path: a run directory (``./call-monitor``), one writer directory in it, a
        merge, or a folder of runs and merges (each call is read once). None:
        the newest run in the current directory.
    allow_pickle: restore values that were stored as pickles. Off by default:
        unpickling data from an untrusted database can run arbitrary code.
        Without it such values come back as :class:`callmonitor.Unrestorable`.
    strict: a writer that cannot be read raises instead of being left out
        with a :class:`DamagedWriterWarning`.
    allow_import: module names (``["mypkg"]``: mypkg and its submodules)
        whose recorded objects are rebuilt (imported, made without
        ``__init__``, their state set as pickle does) and whose pickles are
        unpickled; narrower than allow_pickle, which allows every module.
        Without either, a recorded object is a read-only
        :class:`~callmonitor.read.objects.RecordedObject` view
        (docs/objects.md).

    In a process that is recording, what it recorded so far is committed
    first, so the database holds it. A folder written by callmonitor 0.3
    (db.pkl) is read as a LegacyDatabase.
    """
    if _core.output_directory() is not None:
        _core.flush()
    if path is None:
        path = _core.newest_run(os.getcwd())
    from . import legacy  # callmonitor 0.3 databases: read/legacy.py
    if legacy.is_legacy(path):  # 0.3 pickles: allow_import does not apply (allow_pickle does)
        return legacy.LegacyDatabase(path, allow_pickle=allow_pickle)
    return Database(path, allow_pickle=allow_pickle, strict=strict, allow_import=allow_import)
