"""Reading a database written by the pure-Python callmonitor 0.3, without
that package: ``load(OLD)`` returns a :class:`LegacyDatabase`, which reads
like a :class:`~callmonitor.read.database.Database` (get, get_args, call,
calls, functions, writers, repr).

The 0.3 layout (docs/migrating-from-0.3.md)::

    call-monitor[-tid=N | -pid=P[-tident=T]][-k]/   one database = one writer process
    ├── db.pkl                        pickled callmonitor.db.DB: counter, calls, argspecs
    └── <func.__name__>/<n>/          one folder per call, n from 1
        ├── input_descriptor.pkl      {"args": [handler], "kwargs": {name: handler}, "argspec"}
        └── arg_<target>.npy          an argument whose type was exactly numpy.ndarray

Pickles are read by a restricted unpickler: 0.3's classes map to local
stand-ins, the numpy and builtin helpers a pickle of plain data needs are
allowed, and every other global is refused (the value comes back as an
:class:`~callmonitor.Unrestorable` naming the class). ``allow_pickle=True``
imports other globals as pickle does: only for databases you trust.
"""
import inspect
import io
import os
import pickle
import re
import types

from typing import Any, Dict, Iterator, Optional

from .. import _core
from ..capture.describe import describe_signature

from .database import Call, Database, FunctionInfo, FunctionRef, PathLike, _human, _wanted_labels
from .errors import (CorruptError, NotADatabaseError, NotFoundError, UnknownFunctionError,
                     UnknownWriterError, VersionError)
from .values import Unrestorable

MIN_VERSION = (0, 3, 0)
# stored kind byte (describe_signature's) -> _core.ParameterKind (what FunctionInfo reads)
_PARAMETER_KINDS = {int(kind): kind for kind in _core.ParameterKind.__members__.values()}
# 0.3 folder names: base, then the writer suffix, then the snapshot number.
_FOLDER = re.compile(r"^(?P<base>.*?)(?:-tid=(?P<tid>\d+)|-pid=(?P<pid>-?\d+)(?:-tident=(?P<tident>\d+))?)?"
                     r"(?:-(?P<snapshot>\d+))?$")


# -- the restricted unpickler ---------------------------------------------------------

class _StandIn:
    """Base of the local stand-ins for 0.3's classes: made with ``cls.__new__(cls)``,
    filled by pickle's BUILD (``__dict__.update``)."""


class LegacyDB(_StandIn):
    """Stands in for ``callmonitor.db.DB``: ``_version``, ``_locked``, ``_counter``, ``_calls``."""


class LegacyCounter(_StandIn):
    """Stands in for ``callmonitor.counter.Counter``: ``_count`` = {function: calls}."""


class LegacyHandler(_StandIn):
    """Stands in for ``callmonitor.handler.Handler``: ``_data`` and ``_target``."""


class LegacyDefaultHandler(LegacyHandler):
    """``callmonitor.handler.DefaultHandler``: the value itself is ``_data``."""


class LegacyNPHandler(LegacyHandler):
    """``callmonitor.handler.NPHandler``: the array is in ``arg_<_target>.npy``."""


class _Refused:
    """What a refused global becomes: an inert object that remembers the name
    (its class has the refused global's ``__module__`` and ``__qualname__``)."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __reduce__(self):
        raise TypeError(f"{type(self).__module__}.{type(self).__qualname__} was not unpickled")


def _numpy_global(name):
    import numpy
    core = getattr(numpy, "_core", None) or numpy.core
    return getattr(core.multiarray, name)


_STAND_INS = {
    ("callmonitor.db", "DB"): LegacyDB,
    ("callmonitor.counter", "Counter"): LegacyCounter,
    ("callmonitor.handler", "Handler"): LegacyHandler,
    ("callmonitor.handler", "DefaultHandler"): LegacyDefaultHandler,
    ("callmonitor.handler", "NPHandler"): LegacyNPHandler,
}
_BUILTINS = {"int", "float", "complex", "str", "bytes", "bytearray", "bool", "list", "tuple",
             "dict", "set", "frozenset", "slice", "range", "object"}
_ALLOWED = {("inspect", "FullArgSpec"), ("numpy", "ndarray"), ("numpy", "dtype"),
            ("collections", "OrderedDict"), ("_codecs", "encode"), ("copyreg", "_reconstructor")}
_NUMPY_HELPERS = {"_reconstruct", "scalar"}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, allow_pickle):
        super().__init__(file)
        self.allow_pickle = allow_pickle
        self.refused = {}

    def find_class(self, module, name):
        if (module, name) in _STAND_INS:
            return _STAND_INS[(module, name)]
        if module == "builtins" and name in _BUILTINS or (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in _NUMPY_HELPERS:
            return _numpy_global(name)
        if self.allow_pickle:
            return super().find_class(module, name)
        key = f"{module}.{name}"
        if key not in self.refused:
            self.refused[key] = type(name, (_Refused,), {"__module__": module, "__qualname__": name})
        return self.refused[key]


def _unpickle(path, allow_pickle):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CorruptError(f"{path}: cannot be read ({e.strerror})") from None
    u = _Unpickler(io.BytesIO(data), allow_pickle)
    try:
        return u.load()
    except Exception as e:
        raise CorruptError(f"{path} is not a readable callmonitor 0.3 pickle "
                           f"({type(e).__name__}: {e})") from None


def _restored(value, depth=0):
    """`value` with refused objects replaced by Unrestorable placeholders."""
    if isinstance(value, _Refused):
        cls = type(value)
        return Unrestorable(f"{cls.__module__}.{cls.__qualname__}", "<not unpickled>",
                            "its class is not one callmonitor unpickles from an untrusted "
                            "callmonitor 0.3 database; load with allow_pickle=True (and the "
                            "module importable) if you trust it")
    if depth > 200:
        return value
    if type(value) in (list, tuple, set, frozenset):
        items = [_restored(v, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return type(value)(items)
    if type(value) is dict:
        pairs = [(_restored(k, depth + 1), _restored(v, depth + 1)) for k, v in value.items()]
        if all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items())):
            return value
        return dict(pairs)
    return value


# -- signatures ---------------------------------------------------------------------

def signature_of(argspec):
    """The ``inspect.Signature`` a 0.3 ``FullArgSpec`` describes."""
    P = inspect.Parameter
    ann = dict(argspec.annotations or {})
    params = []
    defaults = list(argspec.defaults or ())
    first_default = len(argspec.args) - len(defaults)
    for i, name in enumerate(argspec.args):
        kw = {"default": defaults[i - first_default]} if i >= first_default else {}
        params.append(P(name, P.POSITIONAL_OR_KEYWORD, annotation=ann.get(name, P.empty), **kw))
    if argspec.varargs:
        params.append(P(argspec.varargs, P.VAR_POSITIONAL, annotation=ann.get(argspec.varargs, P.empty)))
    for name in argspec.kwonlyargs or ():
        kw = {"default": argspec.kwonlydefaults[name]} if name in (argspec.kwonlydefaults or {}) else {}
        params.append(P(name, P.KEYWORD_ONLY, annotation=ann.get(name, P.empty), **kw))
    if argspec.varkw:
        params.append(P(argspec.varkw, P.VAR_KEYWORD, annotation=ann.get(argspec.varkw, P.empty)))
    return inspect.Signature(params, return_annotation=ann.get("return", inspect.Signature.empty),
                             __validate_parameters__=False)


def function_description(name, argspec):
    """A 0.3 function as capture's describe() dict (what RecordWriter stores).
    0.3 kept only ``func.__name__``: no module, file or line."""
    parameters, return_annotation = describe_signature(signature_of(argspec))
    return {"module": "", "qualname": name, "name": name, "file": "", "line": 0,
            "signature_known": True, "parameters": parameters,
            "return_annotation": return_annotation, "kind": "function"}


# -- the database ---------------------------------------------------------------------

def is_legacy_database(path):
    """True when `path` is one callmonitor 0.3 database folder."""
    path = os.fspath(path)
    if not os.path.isdir(path) or os.path.exists(os.path.join(path, "data.mdb")):
        return False
    return os.path.isfile(os.path.join(path, "db.pkl")) or bool(_recovered_calls(path))


def legacy_databases_in(path):
    """The names of the callmonitor 0.3 database folders directly inside `path`."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    return [n for n in names if is_legacy_database(os.path.join(path, n))]


def is_legacy(path):
    """True when `path` is a callmonitor 0.3 database folder (its db.pkl, or
    call folders ``<fn>/<n>/input_descriptor.pkl`` left by a process that died),
    or a folder of them with no database of this version (LegacyDatabase then
    says which to open)."""
    path = os.fspath(path)
    if not os.path.isdir(path) or os.path.exists(os.path.join(path, "data.mdb")):
        return False
    if is_legacy_database(path):
        return True
    try:
        if any(os.path.exists(os.path.join(path, d, "data.mdb")) for d in os.listdir(path)):
            return False
    except OSError:
        return False
    return bool(legacy_databases_in(path))


def _recovered_calls(path):
    """{function: [n, ...]} from the call folders alone (no db.pkl)."""
    found = {}
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return found
    for name in names:
        fdir = os.path.join(path, name)
        if not os.path.isdir(fdir):
            continue
        ns = sorted(int(n) for n in os.listdir(fdir)
                    if n.isdigit() and os.path.isfile(os.path.join(fdir, n, "input_descriptor.pkl")))
        if ns:
            found[name] = ns
    return found


class _LegacyWriter:
    """The one writer of a 0.3 database, named from its folder's suffix."""

    def __init__(self, path, started_unix_ns):
        folder = os.path.basename(os.path.abspath(path))
        m = _FOLDER.match(folder)
        self.rank, self.pid, self.host = -1, 0, ""
        if m and m.group("tid") is not None:        # 0.3.6 and before: the MPI rank
            self.id = f"tid-{m.group('tid')}"
            self.rank = int(m.group("tid"))
        elif m and m.group("pid") is not None:      # 0.3.7: os.getpid() or rc(pid=...)
            self.pid = int(m.group("pid"))
            self.id = f"pid-{self.pid}" + (f"-tident-{m.group('tident')}" if m.group("tident") else "")
        else:
            self.id = "main"
        self.writer_id = self.id
        self.run = folder
        self.info = types.SimpleNamespace(started_unix_ns=started_unix_ns)

    # what Call asks a writer for: 0.3 recorded no sites, labels or parents
    def site(self, site_id):
        return None

    def label(self, label_id):
        return None

    def parent(self, key):
        return None


class _LegacyFunction:
    def __init__(self, name, argspec, locs):
        self.name = name
        self.argspec = argspec
        self.locs = locs          # loc of call n at index n - 1 (None: missing)


class LegacyDatabase(Database):
    """A callmonitor 0.3 database, read-only. Open it with ``callmonitor.load(path)``.

    0.3 recorded the inputs only: no module (functions are named by
    ``__name__``), no result, exception, timing or thread. A call's start is
    the time its folder was written; its duration is None. It is a
    :class:`Database` (``callmonitor.DB``): what reads calls through the
    public methods (replay, export) works on it too."""

    def __init__(self, path: PathLike, allow_pickle: bool = False) -> None:
        # Database.__init__ opens LMDB writers: not called; every reading method is overridden.
        self.path = os.fspath(path)
        self.allow_pickle = allow_pickle
        if not os.path.exists(self.path):
            raise NotFoundError(f"{self.path} does not exist: give the path of a callmonitor 0.3 "
                                f"database folder (the one holding db.pkl)")
        self._functions: dict[str, _LegacyFunction] = {}
        self.version: Optional[tuple[int, ...]] = None
        self.locked = False
        db_pkl = os.path.join(self.path, "db.pkl")
        if os.path.isfile(db_pkl):
            db = _unpickle(db_pkl, allow_pickle)
            if not isinstance(db, LegacyDB):
                raise NotADatabaseError(f"{db_pkl} does not hold a callmonitor 0.3 database")
            self.version = tuple(getattr(db, "_version", ()) or ())
            if self.version < MIN_VERSION:
                raise VersionError(f"{self.path} was written by callmonitor {self.version}: only "
                                   f"databases of 0.3.0 and later can be read")
            self.locked = bool(getattr(db, "_locked", False))
            counts = dict(getattr(getattr(db, "_counter", None), "_count", {}) or {})
            for name, entries in (getattr(db, "_calls", {}) or {}).items():
                entries = list(entries)
                n = max(counts.get(name, len(entries)), len(entries))
                locs = [e.get("loc") for e in entries] + [None] * (n - len(entries))
                argspec = entries[0]["argspec"] if entries else None
                self._functions[name] = _LegacyFunction(name, argspec, locs)
        else:  # a process that died before writing db.pkl: the call folders say it all
            recovered = _recovered_calls(self.path)
            inner = [] if recovered else legacy_databases_in(self.path)
            if inner:
                raise NotADatabaseError(
                    f"{self.path} holds {len(inner)} callmonitor 0.3 databases ({', '.join(inner)}): "
                    f"load one of them, or convert them into one database with: callmonitor "
                    f"import-legacy {self.path} NEW")
            if not recovered:
                raise NotADatabaseError(f"{self.path} is not a callmonitor 0.3 database: no db.pkl "
                                        f"and no <function>/<n>/input_descriptor.pkl")
            for name, ns in recovered.items():
                locs = [None] * max(ns)
                for n in ns:
                    locs[n - 1] = f"{name}/{n}"
                first = _unpickle(self._descriptor_path(locs[ns[0] - 1]), allow_pickle)
                self._functions[name] = _LegacyFunction(name, first.get("argspec"), locs)
        self._writer = _LegacyWriter(self.path, self._first_call_ns())
        self._infos = {name: self._info(i, f) for i, (name, f) in enumerate(self._functions.items())}

    # -- structure -----------------------------------------------------------
    def _first_call_ns(self):
        times = []
        for f in self._functions.values():
            loc = next((loc for loc in f.locs if loc), None)
            if loc:
                try:
                    times.append(os.stat(self._descriptor_path(loc)).st_mtime_ns)
                except (OSError, CorruptError):
                    pass
        return min(times) if times else 0

    def _info(self, index, f):
        if f.argspec is not None:
            d = function_description(f.name, f.argspec)
        else:
            d = {"module": "", "qualname": f.name, "name": f.name, "file": "", "line": 0,
                 "signature_known": False, "parameters": [], "return_annotation": "",
                 "kind": "function"}
        # FunctionInfo reads a _core.FunctionRecord's attributes: the same, from plain values
        parameters = [types.SimpleNamespace(**dict(p, kind=_PARAMETER_KINDS[p["kind"]]))
                      for p in d["parameters"]]
        record = types.SimpleNamespace(**dict(d, id=index, parameters=parameters, inner_sites=[]))
        return FunctionInfo(record, self._writer, self.allow_pickle, len(f.locs))

    def _descriptor_path(self, loc):
        parts = [p for p in str(loc).split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise CorruptError(f"{self.path}: db.pkl names a call folder outside the database ({loc!r})")
        return os.path.join(self.path, *parts, "input_descriptor.pkl")

    @property
    def functions(self) -> list[FunctionInfo]:
        """Every recorded function (a :class:`FunctionInfo`; module is empty in 0.3)."""
        return list(self._infos.values())

    @property
    def writers(self) -> list[str]:
        return [self._writer.id]

    @property
    def ranks(self) -> list[int]:
        return [self._writer.rank] if self._writer.rank >= 0 else []

    @property
    def runs(self) -> list[str]:
        return [self._writer.run]

    def writer_info(self) -> list[dict[str, Any]]:
        return [{"id": self._writer.id, "run": self._writer.run, "rank": self._writer.rank,
                 "pid": self._writer.pid, "host": "", "calls": len(self)}]

    @property
    def stats(self) -> dict[str, int]:
        return {}

    @property
    def sizes(self) -> dict[str, int]:
        total = 0
        for root, _, files in os.walk(self.path):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(root, name))
                except OSError:
                    pass
        return {"file_bytes": total, "calls": len(self)}

    def __len__(self) -> int:
        return sum(len(f.locs) for f in self._functions.values())

    # -- calls -----------------------------------------------------------------
    def _function(self, fn, writer=None, rank=None, pid=None):
        w = self._writer
        if ((writer is not None and writer != w.id) or (rank is not None and rank != w.rank)
                or (pid is not None and pid != w.pid)):
            raise UnknownWriterError(f"{self.path} is a callmonitor 0.3 database of one writer, "
                                     f"{w.id}" + (f" (rank {w.rank})" if w.rank >= 0 else ""))
        if callable(fn) and not isinstance(fn, str):
            fn = getattr(inspect.unwrap(fn), "__name__", fn)
        if not isinstance(fn, str):
            raise TypeError(f"a function is named by a str or the function itself, not {fn!r}")
        name = fn.rsplit(".", 1)[-1] if fn not in self._functions else fn
        if name not in self._functions:
            known = ", ".join(self._functions) or "nothing was recorded"
            raise UnknownFunctionError(f"no function {fn!r} in {self.path}; recorded functions: {known}")
        return self._functions[name]

    def _number(self, f, n):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int (the invocation number, from 1), not {n!r}")
        count = len(f.locs)
        m = count + 1 + n if n < 0 else n
        if not 1 <= m <= count or f.locs[m - 1] is None:
            if count == 0:
                raise IndexError(f"{f.name} has no recorded calls (asked for call {n})")
            raise IndexError(f"{f.name} has calls 1..{count} (or -{count}..-1 from the end); "
                             f"there is no call {n}" +
                             (" (its folder is missing)" if 1 <= m <= count else ""))
        return m

    def _read(self, f, m):
        loc = f.locs[m - 1]
        descriptor_path = self._descriptor_path(loc)
        d = _unpickle(descriptor_path, self.allow_pickle)
        if not isinstance(d, dict) or "args" not in d or "kwargs" not in d:
            raise CorruptError(f"{descriptor_path} is not a callmonitor 0.3 input descriptor")
        folder = os.path.dirname(descriptor_path)
        args = [self._value(h, folder) for h in d["args"]]
        kwargs = {k: self._value(h, folder) for k, h in d["kwargs"].items()}
        return args, kwargs, descriptor_path

    def _value(self, handler, folder):
        if isinstance(handler, LegacyNPHandler):
            import numpy
            target = getattr(handler, "_target", None)
            npy = os.path.join(folder, f"arg_{target}.npy")
            try:
                return numpy.load(npy, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise CorruptError(f"{npy}: the array of argument {target!r} cannot be read ({e})") from None
        if isinstance(handler, LegacyDefaultHandler):
            return _restored(getattr(handler, "_data", None))
        if isinstance(handler, _Refused):
            cls = type(handler)
            return Unrestorable(f"{cls.__module__}.{cls.__qualname__}", "<saved by a 0.3 handler>",
                                "recorded by this callmonitor 0.3 handler; load with "
                                "allow_pickle=True with the handler's module importable")
        if hasattr(handler, "load") and hasattr(handler, "data"):  # a user's handler (allow_pickle)
            handler.load(folder)
            return handler.data
        raise CorruptError(f"{folder}: an argument is held by {type(handler).__name__}, "
                           f"not by a callmonitor 0.3 handler")

    def get(self, fn: FunctionRef, n: int, *, writer: Optional[str] = None, rank: Optional[int] = None,
            pid: Optional[int] = None, copy: bool = True) -> tuple[list[Any], dict[str, Any]]:
        """``(args list, kwargs dict)`` of call `n` (from 1; negative from the end), as 0.3's get()."""
        f = self._function(fn, writer, rank, pid)
        args, kwargs, _ = self._read(f, self._number(f, n))
        return args, kwargs

    def call(self, fn: FunctionRef, n: int, *, writer: Optional[str] = None, rank: Optional[int] = None,
             pid: Optional[int] = None, copy: bool = True, label=None) -> Call:
        """Call `n` as a :class:`Call` (no result, timing or thread: 0.3 kept none)."""
        f = self._function(fn, writer, rank, pid)
        if _wanted_labels(label) is not None:
            raise IndexError(f"{f.name} has no recorded calls labelled {label}: callmonitor 0.3 "
                             f"recorded no labels")
        return self._call(f, self._number(f, n))

    def _call(self, f, m):
        args, kwargs, descriptor_path = self._read(f, m)
        try:
            written = os.stat(descriptor_path).st_mtime_ns
        except OSError:
            written = self._writer.info.started_unix_ns
        # Call reads a bound call record's attributes: the same, from plain values
        raw = types.SimpleNamespace(
            invocation=m, args=args, kwargs=kwargs, outcome=_core.CallOutcome.RESULT_NOT_RECORDED,
            result=None, exception_type="", exception_message="", exception_args=None,
            site=None, label=None, parent=None, traceback=None, inner_calls=None,
            start_ns=written - self._writer.info.started_unix_ns, duration_ns=None)
        return LegacyCall(self._infos[f.name], raw, self._writer, None, None)

    def find(self, fn: FunctionRef, *, writer: Optional[str] = None, rank: Optional[int] = None,
             pid: Optional[int] = None) -> list[FunctionInfo]:
        """The recorded function `fn` names (one: a 0.3 database has one writer)."""
        return [self._infos[self._function(fn, writer, rank, pid).name]]

    def calls(self, fn: FunctionRef, *, writer: Optional[str] = None, rank: Optional[int] = None,
              pid: Optional[int] = None, copy: bool = True, label=None) -> Iterator[Call]:
        """Every call of `fn`, read lazily, in invocation order (0.3 recorded
        no labels: none is kept when `label` is given)."""
        f = self._function(fn, writer, rank, pid)
        if _wanted_labels(label) is not None:
            return
        for m, loc in enumerate(f.locs, 1):
            if loc is not None:
                yield self._call(f, m)

    def labels(self, fn: Optional[FunctionRef] = None) -> Dict[Optional[str], int]:
        """0.3 recorded no labels: every call counts under None."""
        functions = [self._function(fn)] if fn is not None else list(self._functions.values())
        total = sum(1 for f in functions for loc in f.locs if loc is not None)
        return {None: total} if total else {}

    # -- lifecycle -----------------------------------------------------------
    def close(self) -> None:
        pass

    def __repr__(self):
        lines = [f"<callmonitor 0.3 database {self.path}: {len(self._functions)} functions, "
                 f"{len(self)} calls, writer {self._writer.id}, {_human(self.sizes['file_bytes'])}; "
                 f"convert it with: callmonitor import-legacy>", "{", f"    Locked: {self.locked}"]
        for f in self._functions.values():
            spec = f.argspec
            lines += [f"    {f.name}: {{", f"        calls: {len(f.locs)}",
                      f"        args: {spec.args if spec else None}",
                      f"        defaults: {spec.defaults if spec else None}", "    }"]
        lines.append("}")
        return "\n".join(lines)


class LegacyCall(Call):
    """A call read from a 0.3 database: inputs only."""

    __slots__ = ()
    outcome_known = False   # 0.3 recorded neither result nor exception
