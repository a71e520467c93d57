"""``load(path)``: a recorded run (or one writer of it), read back as Python objects."""
import datetime
import functools
import inspect
import os
import types
from dataclasses import dataclass

from .. import _core
from .errors import NotADatabaseError, NotFoundError, UnknownFunctionError

_PARAM_KINDS = {
    "POSITIONAL_ONLY": inspect.Parameter.POSITIONAL_ONLY,
    "POSITIONAL_OR_KEYWORD": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "VAR_POSITIONAL": inspect.Parameter.VAR_POSITIONAL,
    "KEYWORD_ONLY": inspect.Parameter.KEYWORD_ONLY,
    "VAR_KEYWORD": inspect.Parameter.VAR_KEYWORD,
}


def _writer_dirs(path):
    """The writer directories under `path` (itself, or its subdirectories)."""
    if not os.path.exists(path):
        raise NotFoundError(f"{path} does not exist: give the path of a callmonitor run "
                            f"directory (e.g. ./call-monitor) or of one writer inside it")
    if not os.path.isdir(path):
        raise NotADatabaseError(f"{path} is a file, not a callmonitor database directory")
    if os.path.exists(os.path.join(path, "data.mdb")):
        return [path]
    # The default writer first, then declared ids, ranks and pids in name order.
    names = sorted((d for d in os.listdir(path) if os.path.exists(os.path.join(path, d, "data.mdb"))),
                   key=lambda d: (d != "main", d))
    if names:
        return [os.path.join(path, d) for d in names]
    if os.path.exists(os.path.join(path, "db.pkl")):
        raise NotADatabaseError(
            f"{path} was written by callmonitor 0.3 (it holds db.pkl), not by this version")
    raise NotADatabaseError(f"{path} is not a callmonitor database: it holds no data.mdb, "
                            f"nor do its subdirectories")


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
        self.id = raw["id"]
        self.module = raw["module"]
        self.qualname = raw["qualname"]
        self.name = raw["name"]
        self.file = raw["file"]
        self.line = raw["line"]
        self.kind = raw["kind"]
        self.writer = writer
        self.calls = raw["calls"]
        self._allow_pickle = allow_pickle
        self._signature = None

    @property
    def full_name(self):
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    def _default(self, p):
        try:
            return _core.decode_value(p["default"], self._allow_pickle)
        except Exception:
            return p["default_repr"]

    @property
    def signature(self):
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
    def argspec(self):
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

    def signature_text(self):
        sig = self.signature
        return f"{self.qualname}{sig}" if sig is not None else f"{self.qualname}(...)"

    def __repr__(self):
        return f"<FunctionInfo {self.full_name}: {self.calls} calls>"


class Call:
    """One recorded call."""

    __slots__ = ("function", "invocation", "args", "kwargs", "result", "exception",
                 "started_ns", "duration_ns", "thread", "thread_name", "caller", "writer",
                 "completed", "_started_unix_ns")

    def __init__(self, function, raw, writer, thread, caller, started_unix_ns):
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
        self.writer = writer
        self._started_unix_ns = started_unix_ns

    @property
    def started(self):
        """Wall-clock start of the call (datetime, UTC)."""
        ns = self._started_unix_ns + self.started_ns
        return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.timezone.utc)

    @property
    def duration(self):
        """Seconds the call took (None if it had not returned)."""
        return None if self.duration_ns is None else self.duration_ns / 1e9

    @property
    def bound(self):
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
    """One writer environment and its cached tables."""

    def __init__(self, directory, allow_pickle):
        self.reader = _core.WriterReader(directory)
        self.directory = directory
        self.info = self.reader.info()
        self.id = self.info["writer_id"] or os.path.basename(directory)
        self.allow_pickle = allow_pickle
        self.refresh()

    def refresh(self):
        self.functions = [FunctionInfo(f, self.id, self.allow_pickle)
                          for f in self.reader.functions()]
        self.threads = {t["index"]: t for t in self.reader.threads()}
        self.callers = self.reader.callers()


class Database:
    """A recorded run read back. Open it with :func:`load`."""

    def __init__(self, path, allow_pickle=False):
        self.path = os.fspath(path)
        self.allow_pickle = allow_pickle
        self._writers = [_Writer(d, allow_pickle) for d in _writer_dirs(self.path)]
        self._resolved = {}

    # -- functions -----------------------------------------------------------
    @property
    def writers(self):
        return [w.id for w in self._writers]

    @property
    def functions(self):
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

    def _resolve(self, fn, writer=None):
        key = (fn if isinstance(fn, str) else id(fn), writer)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        match = self._candidates(fn)
        for attempt in range(2):
            found = [(w, f) for w in self._writers if writer in (None, w.id)
                     for f in w.functions if match(f)]
            if found or attempt:
                break
            for w in self._writers:  # a live database may have new functions
                w.refresh()
        names = sorted({f.full_name for _, f in found})
        if not found:
            known = ", ".join(sorted({f.full_name for w in self._writers for f in w.functions}))
            raise UnknownFunctionError(
                f"no function {fn!r} in {self.path}" + (f"; recorded functions: {known}" if known
                                                         else "; nothing was recorded"))
        if len(names) > 1:
            raise UnknownFunctionError(
                f"{fn!r} is ambiguous in {self.path}: it matches {', '.join(names)}; "
                f"use the full name")
        if writer is None and len({w.id for w, _ in found}) > 1:
            found = found[:1]  # the default writer first (see _writer_dirs)
        hit = found[0]
        self._resolved[key] = hit
        return hit

    def _index(self, w, f, n):
        if n < 0:
            count = w.reader.last_invocation(f.id)
            m = count + 1 + n
            if m < 1:
                raise IndexError(self._range_text(f, count, n))
            return m
        if n == 0:
            raise IndexError(self._range_text(f, w.reader.last_invocation(f.id), n))
        return n

    def _range_text(self, f, count, n):
        if count == 0:
            return f"{f.full_name} has no recorded calls (asked for call {n})"
        return (f"{f.full_name} has calls 1..{count} (or -{count}..-1 from the end); "
                f"there is no call {n}")

    # -- calls ---------------------------------------------------------------
    def get(self, fn, n, *, writer=None):
        """``(args, kwargs)`` of call `n` (from 1; negative from the end) of `fn`."""
        w, f = self._resolve(fn, writer)
        inv = self._index(w, f, n)
        try:
            return w.reader.inputs(f.id, inv, self.allow_pickle)
        except IndexError:
            raise IndexError(self._range_text(f, w.reader.last_invocation(f.id), n)) from None

    def get_args(self, fn, n, *, writer=None):
        """Call `n`'s arguments as attributes, one per parameter, defaults filled in."""
        call = self.call(fn, n, writer=writer)
        bound = call.bound
        if bound is None:
            return types.SimpleNamespace(args=call.args, kwargs=call.kwargs)
        bound.apply_defaults()
        return types.SimpleNamespace(**bound.arguments)

    def call(self, fn, n, *, writer=None):
        """The whole record of call `n` of `fn` (a :class:`Call`)."""
        w, f = self._resolve(fn, writer)
        inv = self._index(w, f, n)
        try:
            raw = w.reader.call(f.id, inv, self.allow_pickle)
        except IndexError:
            raise IndexError(self._range_text(f, w.reader.last_invocation(f.id), n)) from None
        return self._make_call(w, f, raw)

    def _make_call(self, w, f, raw):
        thread = w.threads.get(raw["thread"])
        if thread is None or raw["caller"] >= len(w.callers):
            w.refresh()
            thread = w.threads.get(raw["thread"])
        caller = w.callers[raw["caller"]] if raw["caller"] < len(w.callers) else None
        return Call(f, raw, w.id, thread, caller, w.info["started_unix_ns"])

    def calls(self, fn, *, writer=None):
        """Every call of `fn`, in invocation order, read lazily."""
        w, f = self._resolve(fn, writer)
        for inv in w.reader.invocations(f.id):
            yield self._make_call(w, f, w.reader.call(f.id, inv, self.allow_pickle))

    def __len__(self):
        return sum(f.calls for f in self.functions)

    def _summed(self, counters):
        total = {}
        for w in self._writers:
            for k, v in counters(w.reader).items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def stats(self):
        """Capture counters (opaque, pickled, capture errors, dropped calls), all writers."""
        return self._summed(lambda r: r.stats())

    @property
    def sizes(self):
        """Bytes and entries on disk, all writers."""
        return self._summed(lambda r: r.sizes())

    # -- lifecycle -----------------------------------------------------------
    def close(self):
        self._writers = []
        self._resolved.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        functions = self.functions
        size = self.sizes.get("file_bytes", 0)
        lines = [f"<callmonitor database {self.path}: {len(functions)} functions, "
                 f"{sum(f.calls for f in functions)} calls, {len(self._writers)} writer(s), "
                 f"{_human(size)}>", "{"]
        for f in functions:
            spec = f.argspec
            lines += [f"    {f.qualname}: {{",
                      f"        module: {f.module}",
                      f"        calls: {f.calls}",
                      f"        args: {spec.args}",
                      f"        defaults: {spec.defaults}"]
            if len(self._writers) > 1:
                lines.append(f"        writer: {f.writer}")
            lines.append("    }")
        lines.append("}")
        return "\n".join(lines)


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def load(path, allow_pickle=False):
    """Open a recorded database read-only.

    path: a run directory (``./call-monitor``) or one writer directory in it.
    allow_pickle: restore values that were stored as pickles. Off by default:
        unpickling data from an untrusted database can run arbitrary code.
        Without it such values come back as :class:`callmonitor.Unrestorable`.
    """
    return Database(path, allow_pickle=allow_pickle)
